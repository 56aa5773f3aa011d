"""Execution providers: unknown, unavailable, unused; session options."""

from __future__ import annotations

import onnxruntime as ort
import pytest
import seqrec_runtime
from seqrec_runtime import InvalidParameterError, InvalidParameterTypeError, ProviderError
from seqrec_runtime import providers as prov


def _unavailable_provider() -> str:
    missing = [p for p in ort.get_all_providers() if p not in ort.get_available_providers()]
    if not missing:
        pytest.skip("every known onnxruntime provider is available here")
    return "CUDAExecutionProvider" if "CUDAExecutionProvider" in missing else missing[0]


def test_unknown_provider_lists_available_ones(fake_artifact):
    with pytest.raises(ProviderError, match="FooExecutionProvider") as info:
        seqrec_runtime.load(fake_artifact, providers=["FooExecutionProvider"])
    assert "CPUExecutionProvider" in str(info.value)
    assert str(ort.get_available_providers()) in str(info.value)


def test_unknown_provider_even_next_to_cpu():
    with pytest.raises(ProviderError, match="unknown"):
        prov.resolve_providers(["CPUExecutionProvider", "cuda"])


def test_unavailable_provider_warns_and_falls_back(fake_artifact):
    name = _unavailable_provider()
    with pytest.warns(prov.ProviderWarning, match=name) as record:
        rt = seqrec_runtime.load(fake_artifact, providers=[name, "CPUExecutionProvider"])
    assert "CPUExecutionProvider" in str(record[0].message)
    assert rt.providers == ["CPUExecutionProvider"]


def test_unavailable_provider_alone_falls_back_to_cpu():
    name = _unavailable_provider()
    with pytest.warns(prov.ProviderWarning):
        assert prov.resolve_providers([name]) == [("CPUExecutionProvider", {})]


def test_strict_providers_raises(fake_artifact):
    name = _unavailable_provider()
    with pytest.raises(ProviderError, match="not available") as info:
        seqrec_runtime.load(fake_artifact, providers=[name], strict_providers=True)
    assert "CPUExecutionProvider" in str(info.value)


def test_provider_with_options_tuple(fake_artifact):
    rt = seqrec_runtime.load(fake_artifact, providers=[("CPUExecutionProvider", {})])
    assert rt.providers == ["CPUExecutionProvider"]


def test_single_provider_name_is_accepted():
    assert prov.resolve_providers("CPUExecutionProvider") == [("CPUExecutionProvider", {})]


def test_tuple_of_provider_names_is_a_sequence():
    cpu = ("CPUExecutionProvider", {})
    assert prov.resolve_providers(("CPUExecutionProvider",)) == [cpu]
    with pytest.warns(prov.ProviderWarning):  # unavailable in the CPU wheel
        resolved = prov.resolve_providers(("DnnlExecutionProvider", "CPUExecutionProvider"))
    assert resolved == [cpu]
    assert prov.resolve_providers(("CPUExecutionProvider", {})) == [cpu]  # (name, options)


@pytest.mark.parametrize("bad", [[], [3], [("CPUExecutionProvider",)], 7])
def test_malformed_provider_specs(bad):
    with pytest.raises(InvalidParameterTypeError):
        prov.resolve_providers(bad)


def test_default_providers_are_available():
    names = prov.default_providers()
    assert names[-1] == "CPUExecutionProvider"
    assert all(n in ort.get_available_providers() for n in names)
    assert [n for n, _ in prov.resolve_providers(None)] == names


class _FakeSession:
    def __init__(self, used):
        self._used = used

    def get_providers(self):
        return self._used


def test_session_that_dropped_a_provider_warns():
    requested = [("CUDAExecutionProvider", {}), ("CPUExecutionProvider", {})]
    with pytest.warns(prov.ProviderWarning, match="CUDAExecutionProvider"):
        used = prov.check_session_providers(_FakeSession(["CPUExecutionProvider"]), requested)
    assert used == ["CPUExecutionProvider"]


def test_session_that_dropped_a_provider_raises_when_strict():
    requested = [("CUDAExecutionProvider", {})]
    with pytest.raises(ProviderError, match="did not enable"):
        prov.check_session_providers(_FakeSession(["CPUExecutionProvider"]), requested, True)


def test_session_options():
    options = prov.session_options(3)
    assert options.intra_op_num_threads == 3
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert prov.session_options(None).intra_op_num_threads == 0  # onnxruntime default


@pytest.mark.parametrize(
    "bad, error",
    [
        (-1, InvalidParameterError),
        (2**31, InvalidParameterError),  # was onnxruntime's TypeError (a C int)
        (10**30, InvalidParameterError),
        ("2", InvalidParameterTypeError),
        (True, InvalidParameterTypeError),
    ],
)
def test_bad_thread_count(fake_artifact, bad, error):
    with pytest.raises(error):
        seqrec_runtime.load(fake_artifact, intra_op_num_threads=bad)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_reaches_every_session(fake_artifact, monkeypatch, threads):
    import onnxruntime as ort

    made = []

    class RecordingSession(ort.InferenceSession):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(ort, "InferenceSession", RecordingSession)
    rt = seqrec_runtime.load(fake_artifact, intra_op_num_threads=threads)
    assert made, "no onnxruntime session was created"
    assert [s.get_session_options().intra_op_num_threads for s in made] == [threads] * len(made)
    assert rt.recommend_online([3, 10], top_k=3).shape == (3,)


class _SessionWithProviders:
    """A real session that reports other providers than it was given."""

    def __init__(self, session, used):
        self._session, self._used = session, used

    def get_providers(self):
        return self._used

    def __getattr__(self, name):
        return getattr(self._session, name)


def test_every_graph_session_is_checked_not_only_the_scores_one(fake_artifact, monkeypatch):
    from seqrec_runtime import runtime as runtime_module

    real_open = runtime_module._open_session

    def open_session(graph_path, providers, options):
        session = real_open(graph_path, providers, options)
        if "topk" in str(graph_path):  # the top-k graph lost the CPU provider
            return _SessionWithProviders(session, ["SomeOtherExecutionProvider"])
        return session

    monkeypatch.setattr(runtime_module, "_open_session", open_session)
    with pytest.warns(prov.ProviderWarning, match="did not enable"):
        seqrec_runtime.load(fake_artifact, providers=["CPUExecutionProvider"])
    with pytest.raises(ProviderError, match="did not enable"):
        seqrec_runtime.load(fake_artifact, providers=["CPUExecutionProvider"],
                            strict_providers=True)


def test_gpu_advice_is_one_line_that_replaces_the_cpu_build(fake_artifact):
    """The advice never installs onnxruntime-gpu beside onnxruntime (same module name)."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")

    name = _unavailable_provider()
    with pytest.raises(ProviderError) as info:
        seqrec_runtime.load(fake_artifact, providers=[name], strict_providers=True)
    assert prov.GPU_INSTALL in str(info.value) and "[gpu]" not in str(info.value)
    assert prov.GPU_INSTALL.startswith("pip uninstall -y onnxruntime &&")
    root = Path(__file__).resolve().parents[2]
    runtime_project = tomllib.loads((root / "runtime" / "pyproject.toml").read_text())
    extras = runtime_project["project"].get("optional-dependencies", {})
    assert not any("onnxruntime-gpu" in req for reqs in extras.values() for req in reqs)
    for doc in [root / "README.md", root / "runtime" / "README.md", *root.glob("docs/*.md")]:
        text = doc.read_text(encoding="utf-8")
        assert "seqrec-runtime[gpu]" not in text, doc
        for line in text.splitlines():  # every install of the GPU build removes the CPU one
            if "pip install onnxruntime-gpu" in line:
                assert re.search(r"pip uninstall (-y )?onnxruntime && pip install", line), line
