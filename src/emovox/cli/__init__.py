"""The ``emovox`` command: one module per sub-command, each thin (parse, call the library, print).

Every sub-command module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
heavy imports stay inside ``run`` so ``emovox --help`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import EmovoxError
from ..registry import Registry
from . import download, evaluate, gui, info, listen, models, predict, record, serve, train, use

#: The sub-commands, in the order ``emovox --help`` lists them.
COMMANDS: Registry = Registry("command")
for _module in (predict, listen, record, train, evaluate, models, use, info, gui, serve, download):
    COMMANDS.register(_module.NAME)(_module)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except EmovoxError as exc:
        print(f"emovox: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emovox: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`emovox ... | head`): stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's real default, unless its help already says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings and not isinstance(action.default, bool)):
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emovox", description="Speech emotion recognition.")
    parser.add_argument("--version", action="version", version=f"emovox {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           epilog=getattr(module, "EPILOG", None),
                           formatter_class=HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
