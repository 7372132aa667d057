"""JSON → State, with an error that names the offending key for every way the input can be wrong."""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.arch import capabilities, vmcs_fields
from vmxspec.arch.capabilities import MAXLINADDR_VALUES, MAXPHYADDR_RANGE
from vmxspec.state.errors import StateError
from vmxspec.state.model import CpuState, IommuUnit, State
from vmxspec.state.numbers import describe, did_you_mean, parse_number

FORMAT = "vmxspec-state/1"
_TOP_KEYS = ("format", "caps", "vmcs", "memory", "iommu", "iommus", "cpu")
_CPU_NUMBER_KEYS = {"cpl": 2, "cr0": 64, "cr3": 64, "cr4": 64, "rflags": 64, "efer": 64, "ia32_xss": 64,
                    "interruptibility": 32}
_ACTIVITY_STATES = ("active", "hlt", "shutdown", "wait_for_sipi")
_IOMMU_KEYS = ("cap", "ecap", "rtaddr", "haw", "segment", "scope")


def _object(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise StateError("bad-shape", f"expected an object, got {describe(value)}", path)
    return value


def _check_keys(obj: Mapping[str, object], allowed: tuple[str, ...], path: str) -> None:
    for key in obj:
        if key.startswith("x-") or key in allowed:
            continue
        raise StateError("unknown-key", f"unknown key '{key}'{did_you_mean(key, allowed)}", _join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def load_state(doc: object, path: str = "") -> State:
    """Read a vmxspec-state/1 object; raises StateError on the first problem, with its path."""
    obj = _object(doc, path)
    _check_keys(obj, _TOP_KEYS, path)
    fmt = obj.get("format", FORMAT)
    if fmt != FORMAT:
        raise StateError("bad-format", f"format must be \"{FORMAT}\", got {fmt!r}", _join(path, "format"))
    state = State()
    if "caps" in obj:
        _load_caps(state, _object(obj["caps"], _join(path, "caps")), _join(path, "caps"))
    if "vmcs" in obj:
        _load_vmcs(state, _object(obj["vmcs"], _join(path, "vmcs")), _join(path, "vmcs"))
    if "memory" in obj:
        _load_memory(state, _object(obj["memory"], _join(path, "memory")), _join(path, "memory"))
    if "iommu" in obj and "iommus" in obj:
        raise StateError("bad-shape", "give either 'iommu' or 'iommus', not both", _join(path, "iommus"))
    if "iommu" in obj:
        state.iommus.append(_load_iommu(obj["iommu"], _join(path, "iommu")))
    if "iommus" in obj:
        units = obj["iommus"]
        if not isinstance(units, list):
            raise StateError("bad-shape", f"expected a list, got {describe(units)}", _join(path, "iommus"))
        state.iommus.extend(_load_iommu(u, f"{path}.iommus[{i}]") for i, u in enumerate(units))
    if "cpu" in obj:
        state.cpu = _load_cpu(_object(obj["cpu"], _join(path, "cpu")), _join(path, "cpu"))
    return state


def _msr_name(key: str, path: str) -> str:
    if key in capabilities.BY_NAME:
        return key
    try:
        number = parse_number(key, path)
    except StateError:
        number = None
    if number is not None and number in capabilities.BY_NUMBER:
        return capabilities.BY_NUMBER[number].name
    names = [*capabilities.BY_NAME, "MAXPHYADDR", "MAXLINADDR"]
    raise StateError("unknown-msr", f"unknown capability MSR '{key}'{did_you_mean(key, names)}", path)


def _load_caps(state: State, caps: Mapping[str, object], path: str) -> None:
    for key, value in caps.items():
        kpath = _join(path, key)
        if key.startswith("x-"):
            continue
        if key == "MAXPHYADDR":
            n = parse_number(value, kpath, 8)
            lo, hi = MAXPHYADDR_RANGE
            if not lo <= n <= hi:
                raise StateError("bad-number", f"MAXPHYADDR must be between {lo} and {hi}, got {n}", kpath)
            state.maxphyaddr = n
        elif key == "MAXLINADDR":
            n = parse_number(value, kpath, 8)
            if n not in MAXLINADDR_VALUES:
                raise StateError("bad-number", f"MAXLINADDR must be 48 or 57, got {n}", kpath)
            state.maxlinaddr = n
        else:
            name = _msr_name(key, kpath)
            if name in state.caps:
                raise StateError("bad-shape", f"{name} is given twice", kpath)
            state.caps[name] = parse_number(value, kpath, 64)


def _field(key: str, path: str) -> vmcs_fields.VmcsField:
    field = vmcs_fields.BY_NAME.get(key)
    if field is not None:
        return field
    if key.endswith("_HIGH") and key[:-5] in vmcs_fields.BY_NAME:
        raise StateError("unknown-field", f"'{key}' is half of a 64-bit field: give '{key[:-5]}' whole", path)
    try:
        encoding = parse_number(key, path, 16)
    except StateError:
        encoding = None
    if encoding is not None:
        if encoding in vmcs_fields.BY_ENCODING:
            return vmcs_fields.BY_ENCODING[encoding]
        if encoding & 1 and encoding & ~1 in vmcs_fields.BY_ENCODING:
            whole = vmcs_fields.BY_ENCODING[encoding & ~1]
            raise StateError("unknown-field", f"{key} is the high half of {whole.name} "
                             f"({whole.encoding:#06x}): give the 64-bit field whole", path)
        raise StateError("unknown-field", f"no VMCS field has encoding {encoding:#06x}", path)
    raise StateError("unknown-field", f"unknown VMCS field '{key}'{did_you_mean(key, list(vmcs_fields.BY_NAME))}",
                     path)


def _load_vmcs(state: State, vmcs: Mapping[str, object], path: str) -> None:
    for key, value in vmcs.items():
        if key.startswith("x-"):
            continue
        kpath = _join(path, key)
        field = _field(key, kpath)
        if field.name in state.vmcs:
            raise StateError("bad-shape", f"{field.name} is given twice", kpath)
        state.vmcs[field.name] = parse_number(value, kpath, field.bits)


def _load_memory(state: State, memory: Mapping[str, object], path: str) -> None:
    for key, value in memory.items():
        if key.startswith("x-"):
            continue
        kpath = _join(path, key)
        address = parse_number(key, kpath, 64)
        if address & 7:
            raise StateError("bad-address", f"memory address {address:#x} is not 8-byte aligned", kpath)
        if address in state.memory:
            raise StateError("bad-shape", f"memory word {address:#x} is given twice", kpath)
        state.memory[address] = parse_number(value, kpath, 64)


def _load_iommu(doc: object, path: str) -> IommuUnit:
    obj = _object(doc, path)
    _check_keys(obj, _IOMMU_KEYS, path)
    for key in ("cap", "ecap", "rtaddr"):
        if key not in obj:
            raise StateError("bad-shape", f"an IOMMU unit needs '{key}'", path)
    haw = parse_number(obj["haw"], _join(path, "haw"), 8) if "haw" in obj else None
    scope_doc = obj.get("scope", [])
    if not isinstance(scope_doc, list) or not all(isinstance(s, str) for s in scope_doc):
        raise StateError("bad-shape", "'scope' is a list of device strings", _join(path, "scope"))
    return IommuUnit(
        cap=parse_number(obj["cap"], _join(path, "cap"), 64),
        ecap=parse_number(obj["ecap"], _join(path, "ecap"), 64),
        rtaddr=parse_number(obj["rtaddr"], _join(path, "rtaddr"), 64),
        haw=haw,
        segment=parse_number(obj.get("segment", 0), _join(path, "segment"), 16),
        scope=tuple(scope_doc),
    )


def _load_cpu(cpu: Mapping[str, object], path: str) -> CpuState:
    allowed = (*_CPU_NUMBER_KEYS, "activity_state", "in_smm")
    _check_keys(cpu, allowed, path)
    out = CpuState()
    for key, width in _CPU_NUMBER_KEYS.items():
        if key in cpu:
            setattr(out, key, parse_number(cpu[key], _join(path, key), width))
    if "activity_state" in cpu:
        act = cpu["activity_state"]
        if act not in _ACTIVITY_STATES:
            raise StateError("bad-shape", f"activity_state must be one of {', '.join(_ACTIVITY_STATES)}",
                             _join(path, "activity_state"))
        out.activity_state = str(act)
    if "in_smm" in cpu:
        if not isinstance(cpu["in_smm"], bool):
            raise StateError("bad-shape", "in_smm must be true or false", _join(path, "in_smm"))
        out.in_smm = cpu["in_smm"]
    return out
