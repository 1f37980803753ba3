"""`python -m wac.localservices up|down|status|env`: the same command as `wac services`."""

from wac.commands.services import services


def main() -> None:
    services(prog_name="python -m wac.localservices")


if __name__ == "__main__":
    main()
