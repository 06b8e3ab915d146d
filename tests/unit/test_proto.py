"""The checked-in generated code is what the pinned grpcio-tools makes of proto/."""

from __future__ import annotations

from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ("unified", "attachments")
GENERATED = tuple(
    f"{name}{suffix}" for name in PROTOS for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
)


def test_generated_code_is_current(tmp_path: Path) -> None:
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"-I{Path(protoc.__file__).parent / '_proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *(str(ROOT / f"proto/kefu/v1/{name}.proto") for name in PROTOS),
        ]
    )
    assert status == 0
    for name in GENERATED:
        fresh = (tmp_path / "kefu/v1" / name).read_text()
        checked_in = (ROOT / "src/kefu/v1" / name).read_text()
        assert checked_in == fresh, f"src/kefu/v1/{name} is stale: run `make proto`"
