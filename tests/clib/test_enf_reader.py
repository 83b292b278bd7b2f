"""libnux's ENF reader is as strict as nux.enf: on a thousand mutated files (the ENF fuzzer's mutations, half with
the CRC fixed so they reach the deep checks) the C validator accepts exactly the files read_enf accepts, and
returns only the documented codes; plus ENFs for another NpuConfig, another ISA major and with host steps."""

from __future__ import annotations

import dataclasses
import random
import struct
import sys
from collections import Counter

import pytest
from clib_rig import CONFIG, ROOT
from npu_programs import copy_enf
from nux.enf import EnfError, read_enf, write_enf
from nux.enf.layout import HEADER
from nux.isa import TEST_CONFIGS
from nux.rtl.isa_layout import RTL_ISA_MINOR

sys.path.insert(0, str(ROOT / "tests" / "enf"))
from enf_samples import minimal_enf, sample_enf, set_header  # noqa: E402
from test_fuzz import field_sites, mutate  # noqa: E402

ACCEPTED = {"nux_error_t_success", "nux_error_t_incompatible_config", "nux_error_t_host_fallback"}
META = {"name": "m", "list": [1, -2.5e3, True, None, "\u00e9\U0001F600"], "nested": {"k": {}}}
REJECTED = {"nux_error_t_invalid_enf", "nux_error_t_unsupported_version"}

pytestmark = pytest.mark.rtl  # the Verilator device


def c_codes(run_c, checks, files) -> dict[str, str]:
    result = run_c(checks, "fuzz", *files)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Sanitizer" not in result.stderr
    return dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())


def _newer_isa(path: str, code: str) -> bool:
    """Whether libnux's `code` for a file read_enf accepts is the device's refusal of a newer ISA minor."""
    if code != "nux_error_t_unsupported_version":
        return False
    with open(path, "rb") as f:
        minor = struct.unpack_from("<H", f.read(), HEADER.offsets["isa_version_minor"])[0]
    return minor > RTL_ISA_MINOR


def python_accepts(data: bytes) -> bool:
    try:
        read_enf(data)
    except EnfError:
        return False
    except UnicodeEncodeError:  # nux.enf.validate.meta_json lets this escape for a lone surrogate in META (a bug)
        return False
    return True


def mutated_cases(tmp_path, count: int, seed: int) -> dict[str, bool]:
    """Files of mutated ENFs -> read_enf's verdict; the images' META gets JSON-breaking and valid edits too."""
    rng = random.Random(seed)
    cases = {}
    for image in (write_enf(sample_enf()), write_enf(dataclasses.replace(minimal_enf(), meta=META))):
        sites = field_sites(image)
        for _ in range(count // 2):
            _, data = mutate(rng, image, sites)
            path = tmp_path / f"{len(cases)}.enf"
            path.write_bytes(data)
            cases[str(path)] = python_accepts(data)
    return cases


@pytest.mark.parametrize("sanitize, count", [(False, 1000), (True, 300)], ids=["plain", "asan"])
def test_mutated_enfs_agree_with_the_python_reader(programs, run_c, tmp_path, sanitize, count):
    cases = mutated_cases(tmp_path, count, seed=1129 + sanitize)
    codes = c_codes(run_c, programs(sanitize)["checks"], list(cases))
    assert set(codes.values()) <= ACCEPTED | REJECTED, Counter(codes.values())
    # a file read_enf accepts may still need a newer ISA minor than the simulated RTL: the device refuses it
    accepted = {f: codes[f] in ACCEPTED or (cases[f] and _newer_isa(f, codes[f])) for f in cases}
    disagree = [(f, cases[f], codes[f]) for f in cases if cases[f] != accepted[f]]
    assert not disagree, disagree[:10]
    verdicts = Counter(codes.values())
    assert verdicts["nux_error_t_invalid_enf"] > count // 3 and sum(cases.values()) > 0, verdicts


def test_config_version_and_host_steps_are_refused_with_their_codes(programs, run_c, tmp_path):
    images = {
        "other_config": write_enf(copy_enf(TEST_CONFIGS[1], (2, 8))),  # dim 8 on the dim 4 simulator
        "other_isa": set_header(write_enf(copy_enf(CONFIG, (2, 8))), "isa_version_major", 2),
        "other_format": set_header(write_enf(copy_enf(CONFIG, (2, 8))), "version_major", 2),
        "host_steps": write_enf(copy_enf(CONFIG, (2, 8), host_step=True)),
        "fine": write_enf(copy_enf(CONFIG, (2, 8))),
    }
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    codes = c_codes(run_c, programs()["checks"], [tmp_path / name for name in images])
    assert {name: codes[str(tmp_path / name)] for name in images} == {
        "other_config": "nux_error_t_incompatible_config",
        "other_isa": "nux_error_t_unsupported_version",
        "other_format": "nux_error_t_unsupported_version",
        "host_steps": "nux_error_t_host_fallback",
        "fine": "nux_error_t_success",
    }


META_TEXTS = [
    b'{"a": 1}', b'{"a": [1, 2.5e-3, -0, true, false, null, "\\u00e9\\ud83d\\ude00", {}]}', b'  {"k": "v"}  ',
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e400}', b'{"a": "\\ud800"}', b'{"a": "\\udc00x"}', b'[1, 2]',
    b'{"a": 1,}', b'{"a" 1}', b'{"a": 01}', b'{"a": "\x01"}', b'{"a": 1} x', b'\xef\xbb\xbf{"a": 1}', b'{"a": tru}',
    b'{"a": "\xff"}', b'"text"', b'{"a": 1.}', b'{"a": -}', b'{"a": "\\x"}', b'{"a": [[[[[]]]]]}',
]


def test_meta_json_rules_agree_with_the_python_reader(programs, run_c, tmp_path):
    """META is checked as nux.enf checks it: each text padded into the META section of one image, CRC fixed."""
    from enf_samples import fix_crc, section
    from nux.enf import SectionKind

    image = write_enf(dataclasses.replace(minimal_enf(), meta={"pad": "x" * 120}))
    _, offset, size = section(image, SectionKind.META)
    files, expected = [], []
    for i, text in enumerate(META_TEXTS):
        data = bytearray(image)
        data[offset : offset + size] = text + b" " * (size - len(text))
        files.append(tmp_path / f"meta{i}.enf")
        files[-1].write_bytes(fix_crc(data))
        expected.append(python_accepts(bytes(files[-1].read_bytes())))
    codes = c_codes(run_c, programs()["checks"], files)
    got = [codes[str(f)] in ACCEPTED for f in files]
    assert got == expected, [(t, e, g) for t, e, g in zip(META_TEXTS, expected, got, strict=True) if e != g]
    assert 3 <= sum(expected) < len(expected)
