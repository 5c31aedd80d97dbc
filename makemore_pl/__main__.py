from makemore_pl.cli import cli_main

cli_main()
