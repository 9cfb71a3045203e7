from realmkit.cli import main

main()
