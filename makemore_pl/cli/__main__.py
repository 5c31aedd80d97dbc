from makemore_pl.cli.main import cli_main

# Guarded: processes started with "spawn" (ddp_spawn's) import __main__ again.
if __name__ == "__main__":
    cli_main()
