"""Models: :class:`BaseModel`, :class:`LinearBlockModel`, :class:`ConvBlockModel` and :class:`KerasModel`.

Follows the "Models / NN Module Reference" (``shared/seeds/001_…``): a model owns a
dataset reference and a Keras model with stable layer names, offers a plain Keras-style
:meth:`BaseModel.train` and the instrumented ablation loop
:meth:`BaseModel.train_instrumented` (implemented in :mod:`kappa.training`), and the
firmware-reference inference :meth:`BaseModel.predict_quantized` (implemented in
:mod:`kappa.firmware_forward`). The quantized TensorFlow forward used in training lives in
:mod:`kappa.training_forward`.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from .dataset import BaseDataset
from .layers import build_plan, same_variable
from .precision import ensure_precision_dict
from .quantization import quantize_tensor, rail_stats
from .training_forward import TrainingForward

RESERVED_LAYER_NAMES = ("input", "loss", "default")
"""Layer names a model may not use: ``input`` and ``default`` are PrecisionDict keys,
``loss`` is reserved for loss-related entries."""


def _check_layer_names(keras_model) -> None:
    bad = [l.name for l in keras_model.layers if l.name in RESERVED_LAYER_NAMES]
    if bad:
        raise ValueError(
            f"layer name(s) {bad} are reserved ({', '.join(RESERVED_LAYER_NAMES)}); rename the layer(s)"
        )


@dataclass(eq=False)
class BaseModel(ABC):
    """Dataset reference + Keras model + training loops (abstract).

    Fields:
        dataset: a :class:`kappa.data.base.BaseDataset`; its ``X``/``Y`` shapes (without the
            sample axis) become ``input_shape``/``output_shape``.
        loss, optimizer, metrics: used by :meth:`train` (Keras ``compile``).
        model: the Keras model (built by subclasses; not an init argument).
        input_shape, output_shape: per-sample shapes, e.g. ``(4,)`` and ``(2,)``.
        name: model name. verbose: print the summary after building.
        seed: seeds the weight initializers (reproducible initial weights).

    Subclasses build ``self.model`` in ``__post_init__`` with stable layer names and
    must not use the reserved names ``input``, ``loss``, ``default``.
    """

    dataset: BaseDataset
    loss: Union[str, tf.keras.losses.Loss] = "mse"
    optimizer: Union[str, tf.keras.optimizers.Optimizer] = "sgd"
    metrics: list = field(default_factory=lambda: [])
    model: Optional[tf.keras.Model] = field(init=False, default=None)
    input_shape: Optional[Tuple[int, ...]] = field(init=False, default=None)
    output_shape: Optional[Tuple[int, ...]] = field(init=False, default=None)
    name: str = "BaseModel"
    verbose: bool = False
    seed: Optional[int] = None

    def __post_init__(self):
        self.input_shape = tuple(int(d) for d in self.dataset.input_shape[1:])
        self.output_shape = tuple(int(d) for d in self.dataset.output_shape[1:])

    # ------------------------------------------------------------ Keras glue
    def _compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Thin wrapper over ``self.model.compile`` (defaults: the model's fields)."""
        self.model.compile(
            optimizer=optimizer if optimizer is not None else self.optimizer,
            loss=loss if loss is not None else self.loss,
            metrics=metrics if metrics is not None else list(self.metrics),
            **kwargs,
        )

    def summary(self) -> None:
        """Print the Keras model summary (nothing if the model is not built)."""
        if self.model is not None:
            self.model.summary()

    def reinitialize_weights(self) -> None:
        """Reassign every kernel/bias (and BatchNorm parameter/statistic) from the layer's
        initializers.

        Keras 3 initializers draw their seed when constructed, so this restores the
        weights the model was built with: baseline and controller runs started after it
        begin from identical parameters.
        """
        for layer in self.model.layers:
            for attr, init_attr in (("kernel", "kernel_initializer"), ("bias", "bias_initializer"),
                                    ("gamma", "gamma_initializer"), ("beta", "beta_initializer"),
                                    ("moving_mean", "moving_mean_initializer"),
                                    ("moving_variance", "moving_variance_initializer")):
                var = getattr(layer, attr, None)
                init = getattr(layer, init_attr, None)
                if var is not None and init is not None:
                    var.assign(tf.cast(init(shape=tuple(var.shape), dtype=var.dtype), var.dtype))

    def predict(self, X) -> np.ndarray:
        """Float Keras inference: ``model(X)`` as a float64 array of shape (N, d_out)."""
        return np.asarray(self.model(np.asarray(X, np.float32), training=False), dtype=np.float64)

    def predict_quantized(self, X, precision_dict, **firmware_options) -> np.ndarray:
        """Firmware-reference inference: delegates to
        ``kappa.predict_quantized(self.model, precision, X, **firmware_options)``.

        Args:
            X: inputs, shape (N, *input_shape).
            precision_dict: PrecisionDict / nested dict / YAML-JSON path / None.
            firmware_options: ``io_type``, ``strategy``, ``reuse_factor``, ``layer_options``
                (the same names and defaults as ``hls.convert``).

        Returns:
            float64 ndarray of shape (N, *output_shape): what the hls4ml firmware computes.

        Raises:
            ValueError: unsupported layer or invalid precision (see kappa.firmware_forward).
        """
        from .firmware_forward import predict_quantized

        return predict_quantized(self.model, ensure_precision_dict(precision_dict), X, **firmware_options)

    # ------------------------------------------------------------- training
    def train(self, X, Y, epochs: int = 10, batch_size: int = 32, *, shuffle: bool = True,
              progress: bool = False) -> dict:
        """Simple Keras-style training loop (``tf.data`` + ``compile`` + ``apply_gradients``).

        Uses the model's ``optimizer`` and ``loss`` (compiled with :meth:`_compile`). The
        step is a ``tf.function``; per-step losses stay tensors and are fetched once at
        the end.

        Args:
            X, Y: arrays (N, d_in), (N, d_out) (cast to float32).
            epochs, batch_size: as Keras. shuffle: reshuffle every epoch (seeded by
                ``self.seed``). progress: show a tqdm bar over epochs.

        Returns:
            ``{"loss": float64 (n_steps,), "epoch_loss": float64 (epochs,)}`` (per-step
            batch losses and their per-epoch means).
        """
        X = np.asarray(X, np.float32)
        Y = np.asarray(Y, np.float32)
        if Y.ndim == 1:
            Y = Y[:, None]
        ds = tf.data.Dataset.from_tensor_slices((X, Y))
        if shuffle:
            ds = ds.shuffle(len(X), seed=self.seed, reshuffle_each_iteration=True)
        ds = ds.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)
        self._compile()
        opt = self.model.optimizer
        loss_fn = tf.keras.losses.get(self.loss) if isinstance(self.loss, str) else self.loss
        model = self.model

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = tf.reduce_mean(loss_fn(y, y_pred))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        step._omit_frequent_tracing_warning = True  # a new step per call is intended, not retracing

        from tqdm import tqdm

        losses, per_epoch = [], []
        for _ in tqdm(range(int(epochs)), disable=not progress, desc="train"):
            ep = [step(x, y) for x, y in ds]
            losses.extend(ep)
            per_epoch.append(len(ep))
        loss_arr = np.asarray(tf.stack(losses).numpy() if losses else [], dtype=np.float64)
        ends = np.cumsum(per_epoch)
        epoch_loss = np.array([loss_arr[e - n:e].mean() if n else np.nan for e, n in zip(ends, per_epoch)])
        return {"loss": loss_arr, "epoch_loss": epoch_loss}

    def train_instrumented(self, X, Y, epochs=10, batch_size=32, learning_rate=0.05, shuffle=True,
                           loss_mode="half_mse", curvature_ema_rho=0.05, chi=1.5, eps=1e-12,
                           use_controller=False, compute_analytic_hessian=True, reference_A=None,
                           precision_dict=None, **options):
        """The instrumented ablation loop; see :func:`kappa.training.train_instrumented`
        for every argument (including the keyword-only ``curvature_mode``, ``alpha_min``,
        ``optimizer``, ``beta``, ``seed``, ``progress``, …) and every logged metric.

        Returns:
            :class:`kappa.history.FitHistory`.
        """
        from .training import train_instrumented

        return train_instrumented(
            self, X, Y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            shuffle=shuffle, loss_mode=loss_mode, curvature_ema_rho=curvature_ema_rho, chi=chi,
            eps=eps, use_controller=use_controller, compute_analytic_hessian=compute_analytic_hessian,
            reference_A=reference_A, precision_dict=precision_dict, **options,
        )

    # -------------------------------------------------- precision integration
    def _forward_with_precision(self, x, precision, *, training: bool):
        """Forward pass with straight-through fake quantization (see :mod:`kappa.training_forward`).

        Returns float64 (N, *output_shape) with a precision, float32 without one.
        """
        return TrainingForward(self.model, ensure_precision_dict(precision))(x, training=training)

    def _layer_and_field_for_variable(self, var) -> tuple[str, str]:
        """Map a trainable variable to ``(layer_name, field)``.

        Dense/Conv ``kernel`` -> ``"weight"``, ``bias`` -> ``"bias"``, any other
        trainable variable (BatchNorm gamma/beta) -> ``"value"``.

        Raises:
            ValueError: the variable belongs to no layer of the model.
        """
        for layer in self.model.layers:
            for v in layer.trainable_weights:
                if self._same_variable(v, var):
                    kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
                    if kernel is not None and self._same_variable(v, kernel):
                        return layer.name, "weight"
                    if bias is not None and self._same_variable(v, bias):
                        return layer.name, "bias"
                    return layer.name, "value"
        raise ValueError(f"variable {getattr(var, 'path', var)!r} belongs to no layer of model {self.name!r}")

    @staticmethod
    def _same_variable(a, b) -> bool:
        """Identity, then ``path``, then ``name`` comparison (robust across Keras versions)."""
        return same_variable(a, b)

    def _quantize_gradients(self, grads, trainable_vars, precision, seed=None):
        """Quantize each gradient to its layer's ``gradient`` type (no STE).

        Args:
            grads: list of tensors aligned with ``trainable_vars`` (None entries kept).
            precision: PrecisionDict or None (then ``grads`` is returned unchanged).
            seed: shape-[2] int seed for S_RND gradient types (offset per variable).
        """
        precision = ensure_precision_dict(precision)
        if precision is None:
            return list(grads)
        out = []
        for k, (g, v) in enumerate(zip(grads, trainable_vars)):
            layer, _ = self._layer_and_field_for_variable(v)
            t = precision.dtype(layer, "gradient")
            if g is None or t is None:
                out.append(g)
            else:
                s = None if seed is None else tf.cast(seed, tf.int64) + tf.constant([0, 1], tf.int64) * k
                out.append(quantize_tensor(g, t, ste=False, seed=s))
        return out

    def _quantize_variable_storage(self, var, precision, seed=None) -> None:
        """Quantize a stored variable in place to its storage type (Dense kernel:
        ``weight``; Dense bias: ``bias``; others: ``value``), in float64."""
        precision = ensure_precision_dict(precision)
        if precision is None:
            return
        layer, fld = self._layer_and_field_for_variable(var)
        t = precision.dtype(layer, fld)
        if t is not None:
            q = quantize_tensor(tf.cast(var, tf.float64), t, ste=False, seed=seed)
            var.assign(tf.cast(q, var.dtype))

    def _rail_max_for_variables(self, vars_, precision, *, fields=("weight", "bias")) -> dict:
        """Max saturation / near-rail fractions over variables whose field is in ``fields``.

        Returns:
            ``{"saturation_fraction_max": float, "near_rail_fraction_max": float}`` (0.0
            when no variable has a type).
        """
        precision = ensure_precision_dict(precision)
        sat = near = 0.0
        for v in vars_:
            layer, fld = self._layer_and_field_for_variable(v)
            t = None if precision is None or fld not in fields else precision.dtype(layer, fld)
            if t is not None:
                r = rail_stats(np.asarray(v), t)
                sat, near = max(sat, r["saturation_fraction"]), max(near, r["near_rail_fraction"])
        return {"saturation_fraction_max": sat, "near_rail_fraction_max": near}

    def _rail_max_for_tensors(self, tensors, trainable_vars, precision, *, field="gradient") -> dict:
        """Max rail pressure of tensors (e.g. gradients) against each owner's ``field`` type."""
        precision = ensure_precision_dict(precision)
        sat = near = 0.0
        for x, v in zip(tensors, trainable_vars):
            layer, _ = self._layer_and_field_for_variable(v)
            t = None if precision is None or x is None else precision.dtype(layer, field)
            if t is not None:
                r = rail_stats(np.asarray(x), t)
                sat, near = max(sat, r["saturation_fraction"]), max(near, r["near_rail_fraction"])
        return {"saturation_fraction_max": sat, "near_rail_fraction_max": near}


def _initializers(seed: Optional[int], i: int):
    import keras

    if seed is None:
        return "glorot_uniform"
    return keras.initializers.GlorotUniform(seed=int(seed) * 1000 + i)


def _clone_activation(act, name: str):
    import keras

    if isinstance(act, keras.layers.Activation):
        return keras.layers.Activation(act.activation, name=name)
    if isinstance(act, keras.layers.Layer):
        cfg = dict(act.get_config())
        cfg["name"] = name
        return type(act).from_config(cfg)
    return keras.layers.Activation(act, name=name)


@dataclass(eq=False)
class LinearBlockModel(BaseModel):
    """Stack of Dense blocks: ``Dense -> optional Activation -> optional BatchNorm``.

    Fields:
        num_hidden: units of each block, e.g. ``[64, 64]``. ``[]`` gives the one-layer
            model of the affine experiments: one Dense ``dense0`` (d_in -> d_out, with a
            bias iff ``use_bias``), no activation.
        activation: None, a Keras activation name (``"relu"``) or an Activation/ReLU layer
            (cloned per block as ``activation{i}``).
        use_batchnorm: add ``batchnorm{i}`` after each block.
        use_bias: bias in every Dense (including the final one).
        output_activation: None or a Keras activation name (``"softmax"`` for a
            classifier trained with ``loss_mode="cross_entropy"``): an ``output_activation``
            layer after the last Dense.

    Layer names: ``model_input``, ``dense0``, ``activation0``, ``batchnorm0``, ``dense1``…;
    if the last block's width differs from the output size, a final linear Dense
    ``dense{len(num_hidden)}`` is appended. Inputs of rank > 1 are flattened by a
    ``flatten`` layer. Kernels use Glorot-uniform (seeded from ``seed``), biases zeros.

    Raises:
        ValueError: a non-positive width.
    """

    num_hidden: list = field(default_factory=lambda: [64, 64])
    activation: Optional[Union[str, tf.keras.layers.Activation]] = None
    use_batchnorm: bool = False
    use_bias: bool = True
    output_activation: Optional[str] = None
    name: str = "LinearBlockModel"

    def __post_init__(self):
        super().__post_init__()
        self.model = self._build_model(self.input_shape, self.output_shape, verbose=self.verbose)

    def _build_model(self, input_shape, output_shape, verbose=True):
        import keras

        widths = [int(u) for u in self.num_hidden]
        if any(u < 1 for u in widths):
            raise ValueError(f"num_hidden must hold positive widths, got {self.num_hidden!r}")
        d_out = int(np.prod(output_shape)) if len(output_shape) else 1
        inp = keras.Input(shape=tuple(input_shape), name="model_input")
        x = inp
        if len(input_shape) > 1:
            x = keras.layers.Flatten(name="flatten")(x)
        for i, units in enumerate(widths):
            x = keras.layers.Dense(units, use_bias=self.use_bias, name=f"dense{i}",
                                   kernel_initializer=_initializers(self.seed, i))(x)
            if self.activation is not None:
                x = _clone_activation(self.activation, f"activation{i}")(x)
            if self.use_batchnorm:
                x = keras.layers.BatchNormalization(name=f"batchnorm{i}")(x)
        if not widths or widths[-1] != d_out:
            n = len(widths)
            x = keras.layers.Dense(d_out, use_bias=self.use_bias, name=f"dense{n}",
                                   kernel_initializer=_initializers(self.seed, n))(x)
        if self.output_activation is not None:
            x = keras.layers.Activation(self.output_activation, name="output_activation")(x)
        model = keras.Model(inp, x, name=self.name)
        _check_layer_names(model)
        if verbose:
            model.summary()
        return model


@dataclass(eq=False)
class ConvBlockModel(BaseModel):
    """Convolutional blocks, then a Dense head: ``Conv -> optional Activation -> optional
    pooling`` per block, ``Flatten``, hidden Dense layers, a final linear Dense.

    Fields:
        filters: filters of each block, e.g. ``[4, 8]``.
        kernel_size: kernel size of every convolution (int: square).
        strides: strides of every convolution (int).
        padding: ``"valid"`` or ``"same"`` for every convolution.
        pool: None (no pooling), ``"max"`` or ``"average"``: a pooling layer of
            ``pool_size`` after each block.
        pool_size: pooling window and stride (int).
        activation: None or a Keras activation name (``"relu"``): ``activation{i}`` after
            each convolution, and after each hidden Dense of the head.
        dense_hidden: widths of the head's hidden Dense layers (``[]``: none).
        use_bias: bias in every Conv and Dense.
        use_batchnorm: a ``batchnorm{i}`` BatchNormalization after each convolution
            (before its activation).
        output_activation: None or a Keras activation name (``"softmax"``): an
            ``output_activation`` layer after the output Dense.
        conv_dims: 1 (``Conv1D``, inputs (W, C)) or 2 (``Conv2D``, inputs (H, W, C)); by
            default 2 for rank-3 inputs and 1 for rank-2 inputs.

    Layer names: ``model_input``, ``conv0``, ``activation0``, ``pool0``, ``conv1``, …,
    ``flatten``, ``dense0``, ``dense_activation0``, …, ``dense{n}`` (the output layer).
    Kernels use Glorot-uniform (seeded from ``seed``), biases zeros. The inputs must be
    channels_last (``DigitsDataset(images=True)`` gives (N, 8, 8, 1)).

    Raises:
        ValueError: a non-positive filter count, width, kernel, stride or pool size; an
            unknown padding or pool; an input rank that does not match ``conv_dims``; or a
            block that shrinks the input below one pixel.
    """

    filters: list = field(default_factory=lambda: [4])
    kernel_size: int = 3
    strides: int = 1
    padding: str = "same"
    pool: Optional[str] = "max"
    pool_size: int = 2
    activation: Optional[str] = "relu"
    dense_hidden: list = field(default_factory=list)
    use_bias: bool = True
    use_batchnorm: bool = False
    output_activation: Optional[str] = None
    conv_dims: Optional[int] = None
    name: str = "ConvBlockModel"

    def __post_init__(self):
        super().__post_init__()
        self.model = self._build_model(self.input_shape, self.output_shape, verbose=self.verbose)

    def _build_model(self, input_shape, output_shape, verbose=True):
        import keras

        dims = self.conv_dims if self.conv_dims is not None else len(input_shape) - 1
        if dims not in (1, 2) or len(input_shape) != dims + 1:
            raise ValueError(f"ConvBlockModel with conv_dims={self.conv_dims!r} needs inputs of shape "
                             f"(W, C) for Conv1D or (H, W, C) for Conv2D; the dataset gives {tuple(input_shape)} "
                             "(for digits use DigitsDataset(images=True))")
        for what, vals in (("filters", self.filters), ("dense_hidden", self.dense_hidden),
                           ("kernel_size", [self.kernel_size]), ("strides", [self.strides]),
                           ("pool_size", [self.pool_size])):
            if any(int(v) < 1 for v in vals):
                raise ValueError(f"{what} must hold positive integers, got {vals!r}")
        if self.padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {self.padding!r}")
        if self.pool not in (None, "max", "average"):
            raise ValueError(f"pool must be None, 'max' or 'average', got {self.pool!r}")
        spatial = list(input_shape[:-1])
        for i in range(len(self.filters)):  # the sizes each block leaves, before Keras builds anything
            k, st = int(self.kernel_size), int(self.strides)
            spatial = [-(-n // st) if self.padding == "same" else (n - k) // st + 1 for n in spatial]
            if self.pool is not None:
                spatial = [(n - int(self.pool_size)) // int(self.pool_size) + 1 for n in spatial]
            if any(n < 1 for n in spatial):
                raise ValueError(f"block {i} leaves no output pixels: the input {tuple(input_shape)} is too small "
                                 f"for {len(self.filters)} blocks of kernel {k}, stride {st}, padding "
                                 f"{self.padding!r} and pool {self.pool!r}")
        conv = keras.layers.Conv1D if dims == 1 else keras.layers.Conv2D
        pool = {"max": keras.layers.MaxPooling1D if dims == 1 else keras.layers.MaxPooling2D,
                "average": keras.layers.AveragePooling1D if dims == 1 else keras.layers.AveragePooling2D}.get(self.pool)
        d_out = int(np.prod(output_shape)) if len(output_shape) else 1
        inp = keras.Input(shape=tuple(input_shape), name="model_input")
        x = inp
        for i, f in enumerate(self.filters):
            x = conv(int(f), self.kernel_size, strides=self.strides, padding=self.padding, use_bias=self.use_bias,
                     name=f"conv{i}", kernel_initializer=_initializers(self.seed, i))(x)
            if self.use_batchnorm:
                x = keras.layers.BatchNormalization(name=f"batchnorm{i}")(x)
            if self.activation is not None:
                x = keras.layers.Activation(self.activation, name=f"activation{i}")(x)
            if pool is not None:
                x = pool(self.pool_size, name=f"pool{i}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        widths = [int(u) for u in self.dense_hidden]
        for i, units in enumerate(widths):
            x = keras.layers.Dense(units, use_bias=self.use_bias, name=f"dense{i}",
                                   kernel_initializer=_initializers(self.seed, 100 + i))(x)
            if self.activation is not None:
                x = keras.layers.Activation(self.activation, name=f"dense_activation{i}")(x)
        x = keras.layers.Dense(d_out, use_bias=self.use_bias, name=f"dense{len(widths)}",
                               kernel_initializer=_initializers(self.seed, 100 + len(widths)))(x)
        if self.output_activation is not None:
            x = keras.layers.Activation(self.output_activation, name="output_activation")(x)
        model = keras.Model(inp, x, name=self.name)
        _check_layer_names(model)
        if verbose:
            model.summary()
        return model


class KerasModel(BaseModel):
    """Wrap an existing Keras 3 model (e.g. a trained network) as a kappa model.

    Args:
        model: a built Keras 3 model (functional or Sequential), a single chain of
            the layers kappa emulates bit-exactly (``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        dataset: optional dataset; without one the shapes come from the model.
        loss, optimizer, metrics, name, verbose, seed: as :class:`BaseModel`.

    Raises:
        ValueError: any other layer (the message names the layer, its type and the
            supported set), a reserved layer name, or shapes that do not match ``dataset``.
    """

    def __init__(self, model, dataset: Optional[BaseDataset] = None, *, loss="mse", optimizer="sgd",
                 metrics=None, name: Optional[str] = None, verbose: bool = False, seed=None):
        if not isinstance(model, tf.keras.Model):
            raise ValueError(f"KerasModel needs a keras.Model, got {type(model).__name__}")
        build_plan(model, strict=True)  # raises on unsupported layers
        _check_layer_names(model)
        self.dataset = dataset
        self.loss, self.optimizer = loss, optimizer
        self.metrics = list(metrics or [])
        self.name = name or model.name
        self.verbose, self.seed = verbose, seed
        self.model = model
        in_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
        out_shape = tuple(int(d) for d in model.outputs[0].shape[1:])
        if dataset is not None:
            BaseModel.__post_init__(self)
            if self.input_shape != in_shape:
                raise ValueError(f"dataset input shape {self.input_shape} does not match the model's {in_shape}")
            if int(np.prod(self.output_shape or (1,))) != int(np.prod(out_shape)):
                raise ValueError(f"dataset output shape {self.output_shape} does not match the model's {out_shape}")
        self.input_shape, self.output_shape = in_shape, out_shape
        if verbose:
            model.summary()
