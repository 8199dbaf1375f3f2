"""The component contracts: backbones, datasets, partitions and policies."""
