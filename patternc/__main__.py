"""`python -m patternc ...`: the same as the `patternc` command."""
from .cli import console

if __name__ == "__main__":
    console()
