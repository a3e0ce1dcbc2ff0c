from adnet_cli.cli import main

main()
