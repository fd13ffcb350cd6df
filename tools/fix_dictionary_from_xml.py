"""Convert a QuickFIX-format XML data dictionary into marketdrill's compact JSON spec.

Usage::

    .venv/bin/python tools/fix_dictionary_from_xml.py quickfix-1.16.0/spec/FIX44.xml sim/fix/spec/FIX44.json

The conversion itself lives in :func:`sim.fix.dictionary.spec_from_quickfix_xml` so that
``Dictionary.from_quickfix_xml`` (a user-supplied dictionary at run time) and the shipped
JSON files come from the same code.  Components are expanded and groups nested; see the
module docstring of ``sim.fix.dictionary`` for the format and the meaning of "required".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.fix.dictionary import Dictionary, DictionaryError, dump_spec, spec_from_quickfix_xml  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Convert one XML file; print a one-line summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("xml", type=Path, help="QuickFIX-format XML dictionary (e.g. FIX44.xml)")
    ap.add_argument("out", type=Path, help="JSON file to write (e.g. sim/fix/spec/FIX44.json)")
    args = ap.parse_args(argv)
    try:
        spec = spec_from_quickfix_xml(args.xml)
        dd = Dictionary(spec, str(args.xml))  # refuse what the loader would refuse
    except DictionaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(dump_spec(spec), encoding="utf-8")
    print(f"{args.out}: {dd.begin_string}, {len(dd.names)} fields, {len(dd.messages)} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
