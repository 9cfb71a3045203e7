from realmkit.cli.entry import main

main()
