"""repotools: pacman repository tools with signature checking, a privilege-separated
database signer and a repository auditor."""

__version__ = "0.1.0"
