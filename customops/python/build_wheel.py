"""Build the Python wheel jumprelu_customops from the prebuilt libraries (customops/prebuilt/linux-x64).

    python3 customops/python/build_wheel.py [--prebuilt DIR] [--out DIR]

Prints the wheel's path. The wheel is written directly (a zip with METADATA, WHEEL and RECORD, as PEP 427
describes), so building it needs neither network nor build backends. It holds the package
jumprelu_customops (get_library_path()), both libraries and their MANIFEST.json. Tag:
py3-none-manylinux_<glibc>_x86_64, with the glibc version the manifest says the libraries need.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import pathlib
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
CUSTOMOPS = HERE.parent
NAME = "jumprelu_customops"


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--prebuilt", default=str(CUSTOMOPS / "prebuilt" / "linux-x64"))
    p.add_argument("--out", default=str(CUSTOMOPS / "build" / "wheel"))
    a = p.parse_args()
    prebuilt = pathlib.Path(a.prebuilt)
    manifest = json.loads((prebuilt / "MANIFEST.json").read_text())
    package_json = CUSTOMOPS.parent / "package.json"
    version = json.loads(package_json.read_text())["version"] if package_json.exists() else "0.0.0"
    manifest["package_version"] = version
    glibc = max((lib["needs_glibc"] or "2.17" for lib in manifest["libraries"].values()),
                key=lambda v: tuple(map(int, v.split("."))))
    major, minor = glibc.split(".")[:2]
    tag = f"py3-none-manylinux_{major}_{minor}_x86_64"
    dist_info = f"{NAME}-{version}.dist-info"
    files: list[tuple[str, bytes, int]] = []  # (path in wheel, bytes, unix mode)
    files.append((f"{NAME}/__init__.py", (HERE / NAME / "__init__.py").read_bytes(), 0o644))
    files.append((f"{NAME}/MANIFEST.json", (json.dumps(manifest, indent=2) + "\n").encode(), 0o644))
    for lib in manifest["libraries"].values():
        files.append((f"{NAME}/{lib['file']}", (prebuilt / lib["file"]).read_bytes(), 0o755))
    license_file = CUSTOMOPS.parent / "LICENSE"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME.replace('_', '-')}\n"
        f"Version: {version}\n"
        "Summary: JumpReLU custom-op library for ONNX Runtime (com.jumprelu::JumpRelu), CPU and CUDA\n"
        "License: MIT\n"
        "Requires-Python: >=3.8\n"
        "Description-Content-Type: text/markdown\n\n"
        "`jumprelu_customops.get_library_path()` gives the library to pass to "
        "`onnxruntime.SessionOptions.register_custom_ops_library`; `get_library_path(cuda=True)` the one with "
        "CUDA kernels. Built from the jumprelu project's customops/ sources.\n"
    )
    files.append((f"{dist_info}/METADATA", metadata.encode(), 0o644))
    if license_file.exists():
        files.append((f"{dist_info}/LICENSE", license_file.read_bytes(), 0o644))
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: jumprelu build_wheel.py\nRoot-Is-Purelib: false\nTag: {tag}\n"
    files.append((f"{dist_info}/WHEEL", wheel_meta.encode(), 0o644))
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data, _ in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), 0o644))

    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{NAME}-{version}-{tag}.whl"
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path, data, mode in files:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: reproducible wheels
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(tmp, wheel)
    print(wheel)


if __name__ == "__main__":
    main()
