"""`python -m blockbench` runs the command-line interface."""

from blockbench.cli.main import main

if __name__ == "__main__":
    main()
