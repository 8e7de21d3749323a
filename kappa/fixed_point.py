"""Fixed-point types: one Python object for ``ap_fixed<W,I,Q,O,N>``, ``ap_ufixed``,
``ap_int<W>`` and ``ap_uint<W>``.

Strings are parsed with hls4ml's own precision parser
(``FPGABackend.convert_precision_string``), so kappa and the converter can never
disagree about what a string means. kappa adds the validation hls4ml does not do
(``W >= 1``, known modes, well-formed brackets) and one training-only rounding mode,
``S_RND`` (stochastic rounding), which is not an ap_fixed mode and is refused wherever a
type must reach firmware (:meth:`FixedPointType.check_firmware`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUNDING_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
"""ap_fixed quantization modes (Xilinx UG1399, "Arbitrary Precision Data Types")."""
STOCHASTIC_ROUNDING = "S_RND"
"""Unbiased stochastic rounding: up with probability equal to the fractional remainder
(Gupta et al. 2015). Training-time only; no ap_fixed equivalent."""
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
"""ap_fixed overflow modes supported by hls4ml's parser."""

MAX_WIDTH = 51
"""Widest type kappa represents: values are carried in float64 and every integer
below 2**53 must stay exact through rounding (which may add one LSB) and overflow."""

MAX_EXPONENT = 511
"""Bound on the binary exponents of a type: ``I <= 511`` (largest magnitude below
2**511) and ``F = W - I <= 511`` (LSB at least 2**-511). A product of two such values
(and of two LSBs) then stays a normal float64 (exponent within [-1022, 1022]), so
kappa's float64 arithmetic stays exact; ``ap_fixed<8,1030>`` (max ~2**1030 overflows
float64) or ``ap_fixed<8,-1100>`` (LSB 2**-1108 underflows to 0.0) are refused."""

_PATTERN = re.compile(r"^\s*(ap_)?(u?fixed|u?int)\s*<([^<>]*)>\s*$", re.IGNORECASE)
_VALID_FORMS = (
    "ap_fixed<W,I[,Q[,O[,N]]]>, ap_ufixed<W,I[,Q[,O[,N]]]>, ap_int<W>, ap_uint<W> "
    "(the 'ap_' prefix is optional; Q in "
    + "/".join(ROUNDING_MODES + (STOCHASTIC_ROUNDING,))
    + ", O in "
    + "/".join(OVERFLOW_MODES)
    + ", optionally prefixed AP_)"
)


def _norm_mode(token: str) -> str:
    t = token.strip().upper()
    return t[3:] if t.startswith("AP_") else t


@dataclass(frozen=True)
class FixedPointType:
    """An exact fixed-point type, as the C++ ``ap_fixed`` family defines it.

    Attributes:
        width: W, total bits (1 <= W <= 51 in kappa, see ``MAX_WIDTH``).
        integer: I, bits left of the binary point including the sign bit (may be
            negative or exceed W, as in ap_fixed).
        signed: ``ap_fixed``/``ap_int`` (True) or ``ap_ufixed``/``ap_uint`` (False).
        rounding: one of ``ROUNDING_MODES`` or ``"S_RND"`` (training only).
        overflow: one of ``OVERFLOW_MODES``.
        saturation_bits: N, ap_fixed's saturation-bit count for WRAP (only 0 is
            supported by kappa's quantizer).
        kind: ``"fixed"`` or ``"int"``. ``ap_int<W>`` converts from double by
            truncating toward zero (ap_int_base.h, ``ap_int_base(double)``), not by
            ap_fixed's TRN, so it keeps its own kind.

    Representable values are ``k * lsb`` for integers k in ``[qmin, qmax]``.
    """

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"
    saturation_bits: int = 0
    kind: str = "fixed"

    @property
    def value_cast_type(self) -> "FixedPointType":
        """The type that converting an ap_fixed *value* (not a double) to this type acts as.

        For ``ap_fixed`` that is the type itself. ``ap_int<W>`` from an ap_fixed value
        truncates toward zero and wraps (``ap_fixed_base::to_ap_int_base``, checked with g++
        against hls4ml's headers: ``ap_int<4>(ap_fixed<22,8>(-0.3)) == 0``), which is
        ``ap_fixed<W,W,AP_TRN_ZERO,AP_WRAP>``; from a double it gives +1 instead (see ``kind``).
        Every conversion inside the firmware (products, sums, results) starts from an
        ap_fixed value; only inputs and weights are read as doubles.
        """
        if self.kind != "int":
            return self
        return FixedPointType(self.width, self.width, self.signed, "TRN_ZERO", "WRAP")

    def __post_init__(self):
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width < 1:
            raise ValueError(f"fixed-point width W={self.width!r} is invalid: W must be an integer >= 1")
        if self.width > MAX_WIDTH:
            raise ValueError(
                f"fixed-point width W={self.width} is not supported: kappa carries values in float64 "
                f"and supports 1 <= W <= {MAX_WIDTH}"
            )
        if not isinstance(self.integer, int) or isinstance(self.integer, bool):
            raise ValueError(f"fixed-point integer bits I={self.integer!r} are invalid: I must be an integer")
        lo = self.width - MAX_EXPONENT
        if not lo <= self.integer <= MAX_EXPONENT:
            raise ValueError(
                f"fixed-point type with W={self.width}, I={self.integer} leaves float64's exponent range "
                f"(largest value ~2**{self.integer}, LSB 2**{-(self.width - self.integer)}): kappa needs "
                f"|value| < 2**{MAX_EXPONENT} and LSB >= 2**-{MAX_EXPONENT}, i.e. {lo} <= I <= {MAX_EXPONENT} for W={self.width}"
            )
        if self.rounding not in ROUNDING_MODES + (STOCHASTIC_ROUNDING,):
            raise ValueError(
                f"unknown rounding mode {self.rounding!r}; valid: {', '.join(ROUNDING_MODES + (STOCHASTIC_ROUNDING,))}"
            )
        if self.overflow not in OVERFLOW_MODES:
            raise ValueError(f"unknown overflow mode {self.overflow!r}; valid: {', '.join(OVERFLOW_MODES)}")
        if self.saturation_bits != 0:
            raise ValueError(
                f"saturation bits N={self.saturation_bits} are not supported by kappa's quantizer; use N=0"
            )
        if self.kind not in ("fixed", "int"):
            raise ValueError(f"kind must be 'fixed' or 'int', got {self.kind!r}")
        if self.kind == "int" and (self.integer != self.width):
            raise ValueError("an ap_int type has integer == width")

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_string(cls, s: "str | FixedPointType") -> "FixedPointType":
        """Parse an ap_fixed-family string (a ``FixedPointType`` is returned as is).

        The string is parsed by hls4ml's ``FPGABackend.convert_precision_string``
        after kappa checks its form. ``S_RND`` in the rounding slot gives a
        stochastic-rounding type (training only).

        Raises:
            ValueError: malformed string, W < 1 or W > 51, unknown mode, N != 0, or a
                non-ap type (float, auto, ac_fixed); the message names the string and
                the valid forms.
        """
        if isinstance(s, FixedPointType):
            return s
        if not isinstance(s, str):
            raise ValueError(f"expected a fixed-point type string such as 'ap_fixed<16,6>', got {s!r}")
        m = _PATTERN.match(s)
        if not m:
            raise ValueError(f"malformed fixed-point type {s!r}; valid forms: {_VALID_FORMS}")
        base = m.group(2).lower()
        args = [a.strip() for a in m.group(3).split(",")]
        n_num = 2 if "fixed" in base else 1
        if len(args) < n_num or any(a == "" for a in args):
            raise ValueError(f"malformed fixed-point type {s!r}; valid forms: {_VALID_FORMS}")
        if "int" in base and len(args) > 1:
            raise ValueError(f"malformed fixed-point type {s!r}: ap_int/ap_uint take only a width")
        if len(args) > n_num + 3:
            raise ValueError(f"malformed fixed-point type {s!r}: too many parameters; valid forms: {_VALID_FORMS}")
        for a in args[:n_num] + args[n_num + 2 : n_num + 3]:
            if not re.fullmatch(r"[+-]?\d+", a):
                raise ValueError(
                    f"malformed fixed-point type {s!r}: {a!r} is not an integer; valid forms: {_VALID_FORMS}"
                )
        stochastic = False
        if len(args) > n_num:
            q = _norm_mode(args[n_num])
            if q == STOCHASTIC_ROUNDING:
                stochastic = True
                args[n_num] = "RND"
            elif q not in ROUNDING_MODES:
                raise ValueError(
                    f"unknown rounding mode {args[n_num]!r} in {s!r}; valid: "
                    f"{', '.join(ROUNDING_MODES + (STOCHASTIC_ROUNDING,))}"
                )
        if len(args) > n_num + 1 and _norm_mode(args[n_num + 1]) not in OVERFLOW_MODES:
            raise ValueError(f"unknown overflow mode {args[n_num + 1]!r} in {s!r}; valid: {', '.join(OVERFLOW_MODES)}")
        if int(args[0]) < 1:
            raise ValueError(f"invalid fixed-point type {s!r}: width W={args[0]} must be >= 1")
        if n_num == 2 and int(args[0]) <= MAX_WIDTH:
            w_, i_ = int(args[0]), int(args[1])
            if not w_ - MAX_EXPONENT <= i_ <= MAX_EXPONENT:
                raise ValueError(
                    f"fixed-point type {s!r} leaves float64's exponent range: kappa needs |value| < 2**{MAX_EXPONENT} "
                    f"and LSB >= 2**-{MAX_EXPONENT}, so for W={w_} the integer bits I must lie in "
                    f"[{w_ - MAX_EXPONENT}, {MAX_EXPONENT}] (got I={i_})"
                )

        from hls4ml.backends.fpga.fpga_backend import FPGABackend  # the converter's own parser
        from hls4ml.model.types import FixedPrecisionType

        # Modes upper-cased: hls4ml decides signedness by looking for 'u' anywhere in the string.
        args = args[:n_num] + [_norm_mode(a) if i < 2 else a for i, a in enumerate(args[n_num:])]
        canonical = f"ap_{base}<{','.join(args)}>"
        try:
            parsed = FPGABackend.convert_precision_string(canonical)
        except Exception as exc:  # hls4ml raises KeyError/AttributeError/IndexError on bad input
            raise ValueError(
                f"hls4ml cannot parse fixed-point type {s!r} ({exc!r}); valid forms: {_VALID_FORMS}"
            ) from None
        try:
            if isinstance(parsed, FixedPrecisionType):
                return cls(
                    width=int(parsed.width),
                    integer=int(parsed.integer),
                    signed=bool(parsed.signed),
                    rounding=STOCHASTIC_ROUNDING if stochastic else str(parsed.rounding_mode),
                    overflow=str(parsed.saturation_mode),
                    saturation_bits=int(parsed.saturation_bits),
                )
            return cls(
                width=int(parsed.width),
                integer=int(parsed.width),
                signed=bool(parsed.signed),
                rounding="TRN_ZERO",
                overflow="WRAP",
                kind="int",
            )
        except ValueError as exc:  # name the string, not only the field that is wrong
            raise ValueError(f"invalid fixed-point type {s!r}: {exc}") from None

    def __str__(self) -> str:
        """The type as a string hls4ml accepts, e.g. ``ap_fixed<8,3,AP_RND,AP_SAT>``."""
        u = "" if self.signed else "u"
        if self.kind == "int":
            return f"ap_{u}int<{self.width}>"
        s = f"ap_{u}fixed<{self.width},{self.integer}"
        if self.rounding != "TRN" or self.overflow != "WRAP":
            s += f",AP_{self.rounding},AP_{self.overflow}"
        return s + ">"

    def to_hls4ml(self):
        """The equivalent ``hls4ml.model.types`` precision object (firmware types only).

        Raises:
            ValueError: for a stochastic-rounding type (see :meth:`check_firmware`).
        """
        self.check_firmware()
        from hls4ml.backends.fpga.fpga_backend import FPGABackend

        return FPGABackend.convert_precision_string(str(self))

    def check_firmware(self, where: str = "") -> None:
        """Raise ``ValueError`` if this type cannot exist in firmware (stochastic rounding)."""
        if self.rounding == STOCHASTIC_ROUNDING:
            loc = f" ({where})" if where else ""
            raise ValueError(
                f"{self}{loc} uses stochastic rounding S_RND, which is a training-time mode with no "
                f"ap_fixed equivalent; firmware types must use one of {', '.join(ROUNDING_MODES)}"
            )

    # --------------------------------------------------------------- properties
    @property
    def fractional(self) -> int:
        """F = W - I, the number of bits right of the binary point (may be negative)."""
        return self.width - self.integer

    @property
    def stochastic(self) -> bool:
        """True for the training-only stochastic rounding mode."""
        return self.rounding == STOCHASTIC_ROUNDING

    @property
    def lsb(self) -> float:
        """Value of one least-significant bit, 2**-F."""
        return 2.0 ** (-self.fractional)

    @property
    def qmin(self) -> int:
        """Most negative reachable integer code (in LSBs).

        SAT_SYM excludes -2**(W-1), except for W = 1: ap_fixed's SAT_SYM underflow writes
        the pattern ``1 << (W-1) | 1`` (ap_fixed_base.h, ``overflow_adjust``), which for
        one bit is -1 LSB, so a 1-bit SAT_SYM type saturates like SAT (measured with the
        g++ oracle in tests/fixed_point/test_ap_exact.py).
        """
        if not self.signed:
            return 0
        if self.overflow == "SAT_SYM" and self.width > 1:
            return -(2 ** (self.width - 1)) + 1
        return -(2 ** (self.width - 1))

    @property
    def qmax(self) -> int:
        """Largest integer code (in LSBs): 2**(W-1)-1 signed, 2**W-1 unsigned."""
        return 2 ** (self.width - (1 if self.signed else 0)) - 1

    @property
    def min(self) -> float:
        """Most negative value a conversion can produce (as hls4ml's ``FixedPrecisionType.min``)."""
        return self.qmin * self.lsb

    @property
    def max(self) -> float:
        """Largest representable value, (2**(W-signed) - 1) * lsb."""
        return self.qmax * self.lsb


def as_type(dtype: "str | FixedPointType") -> FixedPointType:
    """Coerce a string or FixedPointType to a FixedPointType (see ``from_string``)."""
    return FixedPointType.from_string(dtype)
