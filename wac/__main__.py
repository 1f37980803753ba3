from wac.cli import main

main()
