"""How a project's C simulation is split into translation units (hls.sim.units), on
project files written here: which convolutions get a unit of their own, and what each
unit declares. (The compiled result is checked bit for bit by firmware_tests.)"""

from __future__ import annotations

from pathlib import Path

from hls.sim.units import CODE_GEN, plan_units

UNITY = '#include "firmware/myproject.cpp"\n'


def _project(tmp_path: Path, *, code_gen=True, generated=("config2",)) -> Path:
    fw = tmp_path / "firmware"
    (fw / "nnet_utils").mkdir(parents=True)
    (fw / "nnet_utils" / "nnet_mult.h").write_text("// mult\n")
    if code_gen:
        (fw / CODE_GEN).write_text('#include "nnet_mult.h"\n#include "hls_stream.h"\nnamespace nnet {}\n')
    params = []
    for cfg in ("config2", "config4"):
        params.append(f"struct {cfg} : nnet::conv1d_config {{\n")
        if cfg in generated:
            params.append(f"    using fill_buffer = nnet::fill_buffer_{cfg[-1]}<data_T, CONFIG_T>;\n")
        params.append("};\n")
    (fw / "parameters.h").write_text("".join(params))
    (fw / "myproject.cpp").write_text(
        "    nnet::conv_1d_cl<input_t, layer2_t, config2>(input_1, layer2_out, w2, b2); // conv0\n"
        "    nnet::conv_1d_cl<layer2_t, layer4_t, config4>(layer2_out, layer4_out, w4, b4); // conv1\n"
        "    nnet::dense<layer4_t, result_t, config6>(layer4_out, out, w6, b6); // dense\n")
    return tmp_path


def test_only_generated_convolutions_get_a_unit(tmp_path):
    units = plan_units(_project(tmp_path), UNITY)
    assert [u.name for u in units] == ["main", "layer_config2"]
    decl = "template void nnet::conv_1d_cl<input_t, layer2_t, config2>(input_t*, layer2_t*, config2::weight_t*, " \
           "config2::bias_t*);"
    main, layer = units
    assert main.main and not layer.main
    assert f"extern {decl}\n" in main.source and main.source.endswith(UNITY)
    assert "config4" not in main.source  # compiled in the main unit as before
    # the generated header at -Og after its own includes, the instantiation last
    src = layer.source
    assert src.index('#include "nnet_utils/nnet_mult.h"') < src.index("#include <hls_stream.h>") \
        < src.index('#pragma GCC optimize("Og")') < src.index(f'#include "{CODE_GEN}"') \
        < src.index("#pragma GCC pop_options") < src.index('#include "parameters.h"')
    assert src.rstrip().endswith(decl)
    # only the layer unit collects the compiler's garbage more often
    assert main.flags == () and layer.flags == ("--param", "ggc-min-expand=20", "--param", "ggc-min-heapsize=65536")


def test_projects_without_generated_code_stay_one_unit(tmp_path):
    a = plan_units(_project(tmp_path / "a", code_gen=False), UNITY)
    b = plan_units(_project(tmp_path / "b", generated=()), UNITY)
    assert [(u.name, u.source, u.main) for u in a] == [("main", UNITY, True)]
    assert [(u.name, u.source, u.main) for u in b] == [("main", UNITY, True)]
