from .cli import main

main(None)
