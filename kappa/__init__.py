"""kappa: train neural networks in the firmware's exact fixed-point arithmetic, convert
them to hls4ml HLS projects, and prove the C simulation agrees bit for bit.

Data flows one way: dataset -> model + PrecisionDict -> training -> FitHistory, and
model + PrecisionDict -> HLS project (``hls.convert``) -> csim -> comparison report.
"""

from .data import AffineDataset, BaseDataset, DataType, DigitsDataset
from .data import registry as datasets
from .firmware_forward import predict_quantized
from .fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedPointType
from .precision import FIELDS, PrecisionDict, ensure_precision_dict
from .quantization import quantize, quantize_tensor, rail_stats

# Models, training and history import TensorFlow: load them on first use, so that tools
# which only read reports or quantize with numpy (hls.reports, kappa.quantize) stay light.
_LAZY = {"BaseModel": "nn", "KerasModel": "nn", "LinearBlockModel": "nn", "ConvBlockModel": "nn",
         "FitHistory": "history",
         "train_instrumented": "training",
         "load_model": "loading", "from_qkeras": "qkeras", "from_hgq": "hgq", "suggest_precision": "suggest",
         "firmware_report": "firmware_cost", "FirmwareReport": "firmware_cost"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kappa' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "FixedPointType", "ROUNDING_MODES", "OVERFLOW_MODES", "quantize", "quantize_tensor", "rail_stats",
    "FIELDS", "PrecisionDict", "ensure_precision_dict", "DataType", "BaseDataset", "AffineDataset",
    "DigitsDataset", "datasets", "predict_quantized", "FitHistory", "BaseModel", "LinearBlockModel",
    "KerasModel", "ConvBlockModel", "train_instrumented", "load_model", "from_qkeras", "from_hgq", "suggest_precision",
    "firmware_report", "FirmwareReport",
]
