import json
from types import SimpleNamespace

import numpy as np
import pytest

from renderer.backends import NoiseBackend
from renderer.errors import SetupError
from renderer.mask import changed_indices, mutation_mask
from renderer.painter import Paint, paint, paint_for
from renderer.png import decode_png
from renderer.render import Origin, Parent, recorded_inputs, render
from renderer.telemetry import ABSENT, NvmlTelemetry, Reading, ReplayTelemetry, Sample, open_telemetry

from .events import mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
BUSY = Sample(temperature_c=76, memory_used_bytes=60 * 2**30, memory_total_bytes=80 * 2**30, power_mw=500_000,
              power_limit_mw=700_000, utilisation_pct=97)


def _render(event, parent=None, telemetry=None, size=64):
    return render(event, Origin.from_mint(mint_event()), parent, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                  size=size, telemetry=telemetry)


def _trace(tmp_path, *lines):
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- sources


def test_replay_reads_lines_in_order_and_starts_over(tmp_path):
    path = _trace(tmp_path, "# a cool GPU, then a hot one", '{"temperature_c": 41.4, "power_mw": 100000}', "",
                  '{"temperature_c": 93, "memory_used_bytes": 1, "memory_total_bytes": 2}')
    source = ReplayTelemetry(path)
    first, second, third = source.sample(), source.sample(), source.sample()
    assert first == Reading("replay", Sample(temperature_c=41, power_mw=100_000), "trace.jsonl:2")
    assert second.sample.temperature_c == 93 and second.origin == "trace.jsonl:4"
    assert third == first


@pytest.mark.parametrize("line, message", [('{"temprature_c": 80}', "unknown telemetry field"),
                                           ('{"temperature_c": "hot"}', "must be a number"),
                                           ("[80]", "JSON object"), ("{", "not a telemetry sample")])
def test_a_bad_replay_line_is_named(tmp_path, line, message):
    with pytest.raises(SetupError, match=message) as error:
        ReplayTelemetry(_trace(tmp_path, '{"temperature_c": 50}', line))
    assert "trace.jsonl:2" in str(error.value)


def test_an_empty_or_missing_replay_file_is_a_clear_error(tmp_path):
    with pytest.raises(SetupError, match="no telemetry samples"):
        ReplayTelemetry(_trace(tmp_path, "# nothing"))
    with pytest.raises(SetupError, match="cannot read"):
        ReplayTelemetry(tmp_path / "missing.jsonl")


class FakeNvml:
    """The parts of pynvml the sampler calls, with one board's answers."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    def __init__(self, power_supported=True, fail_sample=False, fail_init=False):
        self.power_supported, self.fail_sample, self.fail_init = power_supported, fail_sample, fail_init

    def nvmlInit(self):
        if self.fail_init:
            raise self.NVMLError("NVML Shared Library Not Found")

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("handle", index)

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetTemperature(self, handle, sensor):
        if self.fail_sample:
            raise self.NVMLError("GPU is lost")
        return 71

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=20 * 2**30, total=80 * 2**30, free=60 * 2**30)

    def nvmlDeviceGetPowerUsage(self, handle):
        if not self.power_supported:
            raise self.NVMLError_NotSupported()
        return 412_345

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        if not self.power_supported:
            raise self.NVMLError_NotSupported()
        return 700_000

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=88, memory=40)


def test_nvml_samples_every_field_in_its_unit():
    reading = NvmlTelemetry(1, FakeNvml()).sample()
    assert reading.source == "nvml" and reading.origin == "GPU 1: NVIDIA H100 80GB HBM3"
    assert reading.sample == Sample(71, 20 * 2**30, 80 * 2**30, 412_345, 700_000, 88)


def test_nvml_fields_a_board_lacks_are_null_and_a_lost_gpu_is_absent():
    assert NvmlTelemetry(0, FakeNvml(power_supported=False)).sample().sample.power_mw is None
    lost = NvmlTelemetry(0, FakeNvml(fail_sample=True)).sample()
    assert lost.source == "absent" and "GPU is lost" in lost.origin


def test_open_telemetry_prefers_replay_then_nvml_then_absent(tmp_path):
    path = _trace(tmp_path, '{"temperature_c": 50}')
    assert isinstance(open_telemetry(path, nvml=FakeNvml()), ReplayTelemetry)
    assert open_telemetry(nvml=FakeNvml()).sample().source == "nvml"
    absent = open_telemetry(nvml=FakeNvml(fail_init=True)).sample()
    assert absent.source == "absent" and "Not Found" in absent.origin


def test_without_a_driver_the_real_pynvml_gives_absent_telemetry():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        reading = open_telemetry().sample()
        assert reading.source == "absent" and reading.sample is None and reading.origin
    else:
        pynvml.nvmlShutdown()
        assert open_telemetry().sample().source == "nvml"


# ---------------------------------------------------------------- mapping and paint


def test_the_documented_mapping():
    assert paint_for(None) is None
    assert paint_for(Sample()) == Paint(0, 256, 0)
    assert paint_for(BUSY) == Paint(hue_shift_deg=108, saturation_256=320, stroke_strength=182)
    assert paint_for(Sample(temperature_c=30)).hue_shift_deg == 0
    assert paint_for(Sample(temperature_c=120)).hue_shift_deg == 180
    assert paint_for(Sample(memory_used_bytes=0, memory_total_bytes=8)).saturation_256 == 128
    assert paint_for(Sample(memory_used_bytes=8, memory_total_bytes=8)).saturation_256 == 384
    assert paint_for(Sample(power_mw=350_000)).stroke_strength == 127  # no limit reported: 700 W
    assert paint_for(Sample(power_mw=900_000, power_limit_mw=300_000)).stroke_strength == 255


def test_hue_and_saturation_in_integers():
    red = np.array([[[255, 0, 0], [200, 100, 100], [90, 90, 90]]], dtype=np.uint8)
    assert paint(red, Paint(120, 256, 0), b"k").tolist() == [[[0, 255, 0], [100, 200, 100], [90, 90, 90]]]
    assert paint(red, Paint(0, 128, 0), b"k").tolist() == [[[255, 128, 128], [200, 150, 150], [90, 90, 90]]]
    assert paint(red, Paint(), b"k") is red


def test_strokes_follow_power_and_the_key():
    image = np.full((32, 32, 3), 128, dtype=np.uint8)
    weak, strong = paint(image, Paint(0, 256, 40), b"k"), paint(image, Paint(0, 256, 255), b"k")
    assert np.abs(strong.astype(int) - 128).mean() > np.abs(weak.astype(int) - 128).mean() > 0
    assert np.array_equal(strong, paint(image, Paint(0, 256, 255), b"k"))
    assert not np.array_equal(strong, paint(image, Paint(0, 256, 255), b"other"))
    assert len(np.unique(strong[..., 0])) > 4  # bands, not a flat shift


# ---------------------------------------------------------------- in the render


def test_the_metadata_records_the_sample_and_where_it_came_from(tmp_path):
    reading = ReplayTelemetry(_trace(tmp_path, json.dumps(BUSY.to_json()))).sample()
    plain, painted = _render(mint_event()), _render(mint_event(), telemetry=reading)
    assert plain.image_png != painted.image_png
    telemetry = json.loads(painted.metadata)["provenance"]["telemetry"]
    assert telemetry["source"] == "replay" and telemetry["origin"] == "trace.jsonl:1"
    assert telemetry["sample"] == BUSY.to_json()
    assert telemetry["paint"] == {"hue_shift_deg": 108, "saturation_256": 320, "stroke_strength": 182}
    absent = json.loads(plain.metadata)["provenance"]["telemetry"]
    assert absent["source"] == "absent" and absent["sample"] is None and absent["paint"] is None
    assert {"trait_type": "GPU telemetry", "value": "replay"} in json.loads(painted.metadata)["attributes"]


def test_a_painted_render_repeats_from_its_metadata_alone():
    reading = Reading("nvml", BUSY, "GPU 0: NVIDIA H100 80GB HBM3")
    rendered = _render(mint_event(), telemetry=reading)
    inputs = recorded_inputs(json.loads(rendered.metadata)["provenance"])
    assert inputs["telemetry"] == reading
    again = render(mint_event(), Origin.from_mint(mint_event()), None, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                   **inputs)
    assert again == rendered
    assert recorded_inputs({})["telemetry"] == ABSENT


def test_a_painted_mutation_still_changes_exactly_its_mask():
    mint = _render(mint_event())
    child = _render(mutation_event(), Parent(mint.image_png, mint.metadata_cid, mint.age_layer),
                    telemetry=Reading("nvml", BUSY, "GPU 0"))
    mask = mutation_mask(bytes.fromhex("e7" * 32), 64, 64)
    assert changed_indices(decode_png(mint.image_png), decode_png(child.image_png)).tolist() == mask.tolist()
