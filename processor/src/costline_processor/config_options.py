"""How a setting is declared: once, on its config field, with what the CLI and the docs need.

Every field of the config dataclasses (config.py) holds its default; the docstring beneath
it says what the setting means; the command-line flags that set it, if any, are its metadata:

    grpc: str | None = field(default=DEFAULT_GRPC, metadata=option(Flag("--grpc HOST:PORT", "...", _unless_off)))
    '''OTLP/gRPC listen address, HOST:PORT; null disables the gRPC receiver.'''

Everything else is generated from those declarations, so a new setting is one field (and
its sentence) and nothing can drift apart:

    settings(Config)          every setting: its YAML path (`receive.grpc`), field, flags, doc
    add_flags(parser, Config) `costline serve`'s arguments
    apply_flags(config, args) the flags given, copied onto their fields
    option_table.py           docs/configuration.md, from the docs and defaults

A field whose default is a config dataclass (`receive: ReceiveConfig`) is a stage: its own
fields are settings under its name. Docstrings of attributes are the convention IDEs show
on hover and Sphinx reads; Python keeps no trace of them at run time, so `Setting.doc` reads
them from the class's source, only when the table is written. This module knows no stage;
config.py imports it, never the reverse.

Each flag also has an environment variable (twelve-factor: the same image, configured by
its environment): `--export-grpc` is `COSTLINE_EXPORT_GRPC` unless the flag names another
(`Flag(..., env=...)`). A variable holds what the flag would be given, as text: a
repeatable flag's values comma-separated, a switch's on/off. config_sources.py applies the
variables between the file and the flags.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import itertools
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from typing import Any

OPTION_KEY = "costline.option"  # where a field's metadata keeps its Option
ENV_PREFIX = "COSTLINE_"  # of the variables derived from flag names


@dataclass(frozen=True)
class Flag:
    """A command-line flag of `costline serve` that sets the field it is declared on."""

    spec: str  # the flag and its metavar, as --help shows them: "--grpc HOST:PORT"
    help: str
    to_field: Callable[[Any], Any] | None = None  # the flag's value -> the field's, e.g. "off" -> None
    type: Callable[[str], Any] | None = None  # argparse's conversion (a bad value is argparse's usage error)
    repeatable: bool = False  # may be given again; the field is the list of all (repeatable flags of one field join)
    env: str | None = None  # its environment variable, when not the one derived from its name

    @property
    def name(self) -> str:
        return self.spec.split()[0]

    @property
    def metavar(self) -> str | None:
        """The metavar the spec gives, or None (argparse then shows the dest in capitals)."""
        words = self.spec.split()
        return words[1] if len(words) > 1 else None

    @property
    def variable(self) -> str:
        """Its environment variable: `--trace-wait` is COSTLINE_TRACE_WAIT unless `env` names another."""
        return self.env or ENV_PREFIX + self.dest.upper()

    @property
    def dest(self) -> str:
        """The attribute argparse stores the flag under."""
        return self.name.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Option:
    """What a field declares in its metadata."""

    flags: tuple[Flag, ...] = ()
    items: type | None = None  # the field is a list of these dataclasses (export.targets), documented field by field


def option(*flags: Flag, items: type | None = None) -> dict[str, Option]:
    """A field's metadata: `field(default=..., metadata=option(Flag("--name METAVAR", "help")))`."""
    return {OPTION_KEY: Option(flags, items)}


@dataclass(frozen=True)
class Setting:
    """One setting found in a config class: where it lives and how it is declared."""

    path: tuple[str, ...]  # ("receive", "grpc")
    field: Field
    option: Option
    owner: type  # the dataclass whose field it is

    @property
    def name(self) -> str:
        """Its YAML name, dotted: `receive.grpc`."""
        return ".".join(self.path)

    @property
    def doc(self) -> str:
        """What it means: the docstring beneath the field, on one line."""
        found = attribute_docs(self.owner).get(self.field.name)
        if not found:
            raise TypeError(f"{self.owner.__name__}.{self.field.name} has no docstring saying what it means")
        return found

    def default(self) -> Any:
        """The default value; MISSING when the setting must be given (an export target's endpoint)."""
        if self.field.default_factory is not MISSING:
            return self.field.default_factory()
        return self.field.default

    def set(self, config: Any, value: Any) -> None:
        for name in self.path[:-1]:
            config = getattr(config, name)
        setattr(config, self.path[-1], value)


def settings(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[Setting]:
    """Every setting of `cls` in declaration order, stages walked into."""
    for f in fields(cls):
        stage = _stage(f)
        if stage:
            yield from settings(stage, (*prefix, f.name))
        else:
            yield Setting((*prefix, f.name), f, f.metadata.get(OPTION_KEY, Option()), cls)


def stages(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], type]]:
    """(path, class) of `cls` and of every stage in it, outermost first."""
    yield prefix, cls
    for f in fields(cls):
        stage = _stage(f)
        if stage:
            yield from stages(stage, (*prefix, f.name))


def _stage(f: Field) -> type | None:
    """The config class of a stage field (its default is one), else None."""
    factory = f.default_factory
    return factory if isinstance(factory, type) and is_dataclass(factory) else None


@functools.cache
def attribute_docs(cls: type) -> dict[str, str]:
    """field name -> the string literal right below it in the class body, whitespace folded."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(tree, ast.ClassDef)
    body = tree.body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


_TRUE = frozenset({"on", "true", "yes", "1"})
_FALSE = frozenset({"off", "false", "no", "0"})


def switch(value: str) -> bool:
    """A switch flag's conversion (`Flag(..., type=switch)`): on/off, true/false, yes/no, 1/0."""
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise argparse.ArgumentTypeError(f"expected on or off, not {value!r}")


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """The flags declared in `cls`, as arguments of `parser`; each one's help names its variable."""
    for flag in all_flags(cls):
        kwargs: dict[str, Any] = {"metavar": flag.metavar, "help": f"{flag.help} [${flag.variable}]"}
        if flag.type:
            kwargs["type"] = flag.type
        if flag.repeatable:
            kwargs.update(action="append", default=[])
        parser.add_argument(flag.name, **kwargs)


def all_flags(cls: type) -> Iterator[Flag]:
    """The flags declared in `cls`, in declaration order."""
    for setting in settings(cls):
        yield from setting.option.flags


def apply_flags(config: Any, args: argparse.Namespace) -> None:
    """Copy each flag given in `args` onto its field. A flag not given (None, "", no repetition)
    leaves the field as the defaults, the file and the environment made it; `args` may lack flags."""
    for setting in settings(type(config)):
        given, value = flag_value(setting.option.flags, lambda flag: getattr(args, flag.dest, None))
        if given:
            setting.set(config, value)


def flag_value(flags: tuple[Flag, ...], raw: Callable[[Flag], Any]) -> tuple[bool, Any]:
    """(given, the field's value) from what `raw(flag)` answers for each of a field's flags, as
    argparse stores it (converted by its type; a list for a repeatable flag): the first
    single flag given, else all the repeatable flags' values joined."""
    repeated: list[Any] = []
    for flag in flags:
        value = raw(flag)
        convert = flag.to_field or (lambda given: given)
        if flag.repeatable:
            repeated += [convert(one) for one in value or ()]
        elif value is not None and value != "":
            return True, convert(value)
    return bool(repeated), repeated
