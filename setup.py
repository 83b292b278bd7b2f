"""Maps the design's top-level folders into the single `nux` import namespace (see pyproject.toml)."""

from setuptools import find_packages, setup

FOLDERS = {"nux": "sdk/nux", "nux.rtl": "rtl", "nux.sim": "sim", "nux.driver": "driver", "nux.aws": "aws_f1"}


def _packages() -> list[str]:
    names = []
    for package, folder in FOLDERS.items():
        names.append(package)
        names += [f"{package}.{sub}" for sub in find_packages(folder) if not sub.startswith("tests")]
    return sorted(set(names))


DATA = ["*.h", "*.cpp", "*.v", "*.sv", "*.vh", "*.json", "*.xdc", "*.tcl", "*.sh"]
setup(packages=_packages(), package_dir=FOLDERS, package_data={"": DATA, "nux.clib": ["c/*.c", "c/*.h", "nux_bench.c"],
                                                                        "nux.aws": ["hdl/*", "flow/*", "flow/*/*"]})
