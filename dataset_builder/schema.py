"""The annotation schema, parsed from a Label Studio labelling config: the one place that reads the XML.

Input: a labelling config (``annotation_configs/*.xml`` or any path).
Output: :class:`LabelSchema`, a frozen record with the entity label set, the stance label set,
the control/object names needed to read an export, the task data fields the config needs, and
the annotator instructions.

Conventions the bundled configs follow (and a custom config must follow to be read):

* one ``<Text>`` object whose ``value`` is ``$text`` (its ``name`` is :attr:`LabelSchema.to_name`);
* at most one entity ``<Labels>`` control pointing at it (any name except ``target``);
* optionally a ``<Labels name="target">`` control: the marker used to pre-mark a given target
  (see ``target_stance.xml``); its labels are not entity labels;
* at most one stance ``<Choices>`` pointing at the text; ``perRegion="true"`` means one stance per
  entity span (the choice shares the span's region id), otherwise one stance per task;
* a config that uses ``$target`` in any attribute has a given target (:attr:`LabelSchema.has_target`).
  With the target marker ``<Labels name="target">`` the target is a span of the text
  (:attr:`LabelSchema.target_kind` ``"span"``; task data ``target``, ``target_start``, ``target_end``);
  without it the target is text outside the text (``"given"``: a headline, a claim, a topic shown
  above the text and not labellable; task data ``target`` only). A per-region stance's target is
  the annotated span (``"span"``);
* the stance ``<Choices>`` may declare the task's metric roles: ``metric="f_avg"`` (SemEval-2016:
  mean F1 of the choices with ``role="favor"`` and ``role="against"``), ``metric="fnc1"`` (FNC-1's
  weighted score: the choice with ``role="unrelated"`` against the related ones) or
  ``metric="macro_f1"``. Without ``metric``: ``f_avg`` when the labels include ``favor`` and
  ``against`` (the default roles), else ``macro_f1`` (:attr:`LabelSchema.stance_metric`);
* instructions are the ``value`` of the ``<Header>`` tags inside ``<View className="instructions">``.

Invariants: label names are non-empty and unique within a control; a schema has at least one
entity label or one stance label; :attr:`LabelSchema.config_hash` is the sha256 of the file bytes,
so the same file always gives the same hash.

Nothing else in the package parses the XML: everyone asks :func:`load_schema`.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from .errors import SchemaError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "annotation_configs"
"""Folder of the bundled labelling configs (``annotation_configs/`` at the repository root)."""

TARGET_CONTROL = "target"
NO_ENTITIES_CONTROL = "no_entities"
"""Name of the optional ``<Choices>`` by which an annotator says a segment has no entity (not a stance)."""
"""Name of the ``<Labels>`` control that pre-marks a given target (not an entity label set)."""

TARGET_FIELDS = ("target", "target_start", "target_end")
"""Task data fields a config with a span target (the target marker) needs besides those it names with ``$``."""

STANCE_METRICS = ("f_avg", "fnc1", "macro_f1")
"""The primary stance metrics a config can declare (``<Choices metric="...">``)."""
METRIC_ROLES = {"f_avg": ("favor", "against"), "fnc1": ("unrelated",), "macro_f1": ()}
"""The ``role`` each metric needs exactly one ``<Choice>`` of."""

_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class LabelSchema:
    """What a labelling config says about the labels and how to read its export.

    Attributes
    ----------
    name : str
        The config's file stem (``entities_stance``).
    path : Path
        Where it was read from.
    xml : str
        The config text as given to Label Studio.
    config_hash : str
        sha256 (hex) of the file bytes.
    entity_labels, stance_labels : tuple of str
        Label names in config order; empty when the config has no such control.
    entity_from_name, stance_from_name, target_from_name : str or None
        ``from_name`` of the entity ``<Labels>``, the stance ``<Choices>`` and the target marker
        ``<Labels>`` in an export's ``result[]`` items.
    to_name : str
        ``to_name`` of the ``<Text>`` object those controls point at.
    text_field : str
        Task data key holding the text (``text``).
    stance_per_region : bool
        True when each entity span carries its own stance (``perRegion="true"``).
    has_target : bool
        True when the target of the stance is given in the task data (``target``, ``target_start``,
        ``target_end``), not annotated.
    data_fields : tuple of str
        Task data keys the config needs (every ``$var`` it uses, plus the target fields when
        ``has_target``), sorted.
    instructions : str
        Annotator instructions, one paragraph per line.
    hotkeys : tuple of (key, label)
        Keyboard shortcuts of the labels, in config order; no key is used twice.
    no_entities_from_name, no_entities_value : str or None
        ``from_name`` of the explicit "no entities in this segment" ``<Choices>``
        (:data:`NO_ENTITIES_CONTROL`), when the config has one, and the value of its (first) choice.
    target_kind : {"span", "given"} or None
        What a stance's target is: a span of the text, or given text outside it; None without stance.
    stance_metric : str or None
        The primary stance metric (:data:`STANCE_METRICS`); None without stance labels.
    stance_roles : tuple of (role, label)
        The labels that play the metric's roles (``favor``/``against``, ``unrelated``), sorted by role.
    """

    name: str
    path: Path
    xml: str
    config_hash: str
    entity_labels: tuple[str, ...]
    stance_labels: tuple[str, ...]
    entity_from_name: str | None
    stance_from_name: str | None
    to_name: str
    text_field: str
    stance_per_region: bool
    has_target: bool
    instructions: str
    target_from_name: str | None = None
    data_fields: tuple[str, ...] = ()
    hotkeys: tuple[tuple[str, str], ...] = ()
    no_entities_from_name: str | None = None
    no_entities_value: str | None = None
    target_kind: str | None = None
    stance_metric: str | None = None
    stance_roles: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        where = f"{self.path}"
        if not self.entity_labels and not self.stance_labels:
            raise SchemaError(f"{where}: the config has no entity and no stance labels; add a <Labels> or <Choices>.")
        for kind, labels in (("entity", self.entity_labels), ("stance", self.stance_labels)):
            if any(not isinstance(v, str) or not v.strip() for v in labels):
                raise SchemaError(f"{where}: empty {kind} label name in {labels!r}; give every label a value.")
            dupes = sorted({v for v in labels if labels.count(v) > 1})
            if dupes:
                raise SchemaError(
                    f"{where}: duplicate {kind} label(s) {', '.join(dupes)}; each label must appear once."
                )
        if bool(self.entity_labels) != (self.entity_from_name is not None):
            raise SchemaError(f"{where}: entity labels and entity control name must be given together.")
        if bool(self.stance_labels) != (self.stance_from_name is not None):
            raise SchemaError(f"{where}: stance labels and stance control name must be given together.")
        if self.stance_per_region and not self.entity_labels:
            raise SchemaError(
                f"{where}: the stance <Choices> is perRegion but there is no entity <Labels> to carry it; "
                "add entity labels or drop perRegion."
            )
        if not re.fullmatch(r"[0-9a-f]{64}", self.config_hash):
            raise SchemaError(f"{where}: config_hash must be 64 hex chars; got {self.config_hash!r}.")

    @property
    def labels(self) -> tuple[str, ...]:
        """Entity labels then stance labels."""
        return self.entity_labels + self.stance_labels


def _attr_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _parse(raw: bytes, where: str) -> ET.Element:
    try:
        return DET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SchemaError(
            f"{where}: refused unsafe XML ({type(exc).__name__}); a labelling config needs no DTD or entities."
        ) from None
    except ET.ParseError as exc:
        line, col = exc.position
        raise SchemaError(f"{where}:{line}: not well-formed XML ({exc}); fix the tag at line {line}, column {col}.") from None


def _instructions(root: ET.Element) -> str:
    """The annotator instructions: the headers of the ``instructions`` views, one per line."""
    return "\n".join(
        (h.get("value") or "").strip()
        for view in root.iter("View")
        if "instructions" in (view.get("className") or "").split()
        for h in view.iter("Header")
        if (h.get("value") or "").strip() and (h.get("value") or "").strip() != "Instructions"
    )


def parse_schema(raw: bytes, *, name: str, path: Path) -> LabelSchema:
    """Parse config bytes into a :class:`LabelSchema` (``load_schema`` reads the file for you).

    Raises
    ------
    SchemaError
        Not well-formed or unsafe XML, no ``<Text value="$text">``, several entity or stance
        controls, controls that point at an unknown object, no labels, duplicate labels.
    """
    where = str(path)
    if not raw.strip():
        raise SchemaError(f"{where}: the config is empty; expected a Label Studio <View> config.")
    try:
        xml = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{where}: not UTF-8 (byte {exc.start}); save the config as UTF-8.") from None
    root = _parse(raw, where)
    if root.tag != "View":
        raise SchemaError(f"{where}: the root tag is <{root.tag}>; a Label Studio config starts with <View>.")

    texts = [el for el in root.iter("Text") if el.get("value", "").strip() == "$text"]
    if len(texts) != 1 or not texts[0].get("name"):
        raise SchemaError(
            f"{where}: expected exactly one named <Text value=\"$text\"> object; found {len(texts)}. "
            "The task text must be in the data field 'text'."
        )
    to_name = texts[0].get("name", "")
    text_field = "text"

    object_names = {el.get("name") for el in root.iter() if el.get("value", "").startswith("$") and el.get("name")}
    entity_ctrls: list[ET.Element] = []
    target_ctrls: list[ET.Element] = []
    stance_ctrls: list[ET.Element] = []
    no_entities_ctrls: list[ET.Element] = []
    for tag in ("Labels", "Choices"):
        for el in root.iter(tag):
            ctrl_name = el.get("name") or ""
            to = el.get("toName") or ""
            if not ctrl_name:
                raise SchemaError(f"{where}: a <{tag}> has no name; give it name=\"...\".")
            if to not in object_names:
                raise SchemaError(
                    f"{where}: <{tag} name=\"{ctrl_name}\"> points at toName=\"{to}\", which is no object "
                    f"of the config (objects: {', '.join(sorted(object_names))})."
                )
            if to != to_name:
                continue  # controls on other objects are outside this schema
            if tag == "Choices" and ctrl_name == NO_ENTITIES_CONTROL:
                no_entities_ctrls.append(el)
            elif tag == "Choices":
                stance_ctrls.append(el)
            elif ctrl_name == TARGET_CONTROL:
                target_ctrls.append(el)
            else:
                entity_ctrls.append(el)
    for kind, ctrls in (("entity <Labels>", entity_ctrls), ("stance <Choices>", stance_ctrls)):
        if len(ctrls) > 1:
            names = ", ".join(c.get("name", "") for c in ctrls)
            raise SchemaError(f"{where}: expected at most one {kind} on \"{to_name}\"; found {len(ctrls)} ({names}).")

    def values(ctrl: ET.Element, child: str) -> tuple[str, ...]:
        out = []
        for item in ctrl.iter(child):
            value = item.get("value")
            if value is None or not value.strip():
                raise SchemaError(
                    f"{where}: a <{child}> in <{ctrl.tag} name=\"{ctrl.get('name')}\"> has no value; "
                    f"write <{child} value=\"...\"/>."
                )
            out.append(value)
        return tuple(out)

    entity_labels = values(entity_ctrls[0], "Label") if entity_ctrls else ()
    stance_labels = values(stance_ctrls[0], "Choice") if stance_ctrls else ()
    for ctrls, got, child, examples in ((entity_ctrls, entity_labels, "Label", "PER, ORG"),
                                        (stance_ctrls, stance_labels, "Choice", "favor")):
        if ctrls and not got:
            raise SchemaError(f"{where}: <{ctrls[0].tag} name=\"{ctrls[0].get('name')}\"> has no <{child}>; add {examples}, ...")

    variables = {m for el in root.iter() for v in el.attrib.values() for m in _VAR.findall(v)}
    has_target = "target" in variables
    per_region = bool(stance_ctrls) and _attr_true(stance_ctrls[0].get("perRegion"))
    given = has_target and not target_ctrls and not per_region  # no marker: the target is outside the text
    data_fields = tuple(sorted(variables | (set(TARGET_FIELDS) if has_target and not given else set())))
    metric, roles = _metric_roles(stance_ctrls[0], stance_labels, where) if stance_ctrls else (None, ())

    return LabelSchema(
        name=name,
        path=path,
        xml=xml,
        config_hash=hashlib.sha256(raw).hexdigest(),
        entity_labels=entity_labels,
        stance_labels=stance_labels,
        entity_from_name=entity_ctrls[0].get("name") if entity_ctrls else None,
        stance_from_name=stance_ctrls[0].get("name") if stance_ctrls else None,
        target_from_name=target_ctrls[0].get("name") if target_ctrls else None,
        to_name=to_name,
        text_field=text_field,
        stance_per_region=per_region,
        has_target=has_target,
        instructions=_instructions(root),
        data_fields=data_fields,
        hotkeys=_hotkeys(root, where),
        no_entities_from_name=NO_ENTITIES_CONTROL if no_entities_ctrls else None,
        no_entities_value=(values(no_entities_ctrls[0], "Choice") or (None,))[0] if no_entities_ctrls else None,
        target_kind=("given" if given else "span") if stance_ctrls else None,
        stance_metric=metric,
        stance_roles=roles,
    )


def _hotkeys(root: ET.Element, where: str) -> tuple[tuple[str, str], ...]:
    """The config's ``(hotkey, label)`` pairs in config order; a key used twice is refused."""
    hotkeys: list[tuple[str, str]] = []
    for el in root.iter():
        key = (el.get("hotkey") or "").strip().lower()
        if not key:
            continue
        for other_key, other in hotkeys:
            if other_key == key:
                raise SchemaError(
                    f"{where}: hotkey {key!r} is used by both {other!r} and {el.get('value')!r}; give each its own key."
                )
        hotkeys.append((key, el.get("value") or el.get("name") or el.tag))
    return tuple(hotkeys)


def _metric_roles(ctrl: ET.Element, labels: tuple[str, ...], where: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The stance ``<Choices>``'s declared metric and the label of each role (rules: module docstring)."""
    metric = (ctrl.get("metric") or "").strip()
    declared: dict[str, list[str]] = {}
    for item in ctrl.iter("Choice"):
        role = (item.get("role") or "").strip()
        if role:
            declared.setdefault(role, []).append(item.get("value") or "")
    if not metric:
        metric = "f_avg" if {"favor", "against"} <= set(labels) or {"favor", "against"} <= set(declared) else "macro_f1"
    if metric not in STANCE_METRICS:
        raise SchemaError(f"{where}: <Choices name=\"{ctrl.get('name')}\"> declares metric=\"{metric}\"; "
                          f"use one of {', '.join(STANCE_METRICS)}.")
    needed = METRIC_ROLES[metric]
    unknown = sorted(set(declared) - set(needed))
    if unknown:
        raise SchemaError(f"{where}: role(s) {', '.join(unknown)} on a <Choice> mean nothing to metric {metric!r} "
                          f"(its roles: {', '.join(needed) or 'none'}).")
    roles = []
    for role in needed:
        chosen = declared.get(role) or ([role] if role in labels else [])
        if len(chosen) != 1:
            raise SchemaError(
                f"{where}: metric {metric!r} needs exactly one <Choice role=\"{role}\"> (or a choice named {role!r}); "
                f"found {len(chosen)}{' (' + ', '.join(chosen) + ')' if chosen else ''}."
            )
        roles.append((role, chosen[0]))
    if metric == "fnc1" and len(labels) < 2:
        raise SchemaError(f"{where}: metric 'fnc1' needs the unrelated choice and at least one related one.")
    return metric, tuple(sorted(roles))


def load_schema(path: str | Path) -> LabelSchema:
    """Read and parse one labelling config.

    Parameters
    ----------
    path : str or Path
        An XML file, or the name of a bundled config (``entities_stance``); see :func:`config_path`.

    Returns
    -------
    LabelSchema

    Raises
    ------
    SchemaError
        Unknown config name, unreadable file, or a config that breaks the conventions above.
    """
    p = config_path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SchemaError(f"{p}: cannot read the config ({exc.strerror}).") from None
    return parse_schema(raw, name=p.stem, path=p)


def list_configs() -> tuple[str, ...]:
    """Names of the bundled configs (file stems in :data:`CONFIG_DIR`), sorted."""
    return tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.xml")))


def config_path(name_or_path: str | Path) -> Path:
    """Resolve a bundled config name (``entities``) or an existing path to a file path.

    Raises
    ------
    SchemaError
        Neither an existing file nor a bundled config name.
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    text = str(name_or_path)
    if "/" not in text and "\\" not in text:
        bundled = CONFIG_DIR / (text if text.endswith(".xml") else f"{text}.xml")
        if bundled.is_file():
            return bundled
    raise SchemaError(
        f"unknown labelling config {text!r}: no such file and no bundled config of that name; "
        f"use a path to an .xml file or one of: {', '.join(list_configs())}."
    )
