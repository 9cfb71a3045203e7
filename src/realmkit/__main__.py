from realmkit.cli.main import main

main()
