from adnet_cli.launch import main

main()
