"""Additive accumulation of per-trial outcomes into operating characteristics with MCSE.

Chunk functions (two-arm and dose-finding) return a dict of per-trial arrays with these
**standard outcome keys** (all optional, each of length ``n`` = trials in the chunk):

==============  ==========  =====================================================================
key             dtype       meaning -> OC produced by :meth:`Accumulator.finalize`
==============  ==========  =====================================================================
``go``          bool        go decision -> ``p_go`` (power / type I / assurance)
``nogo``        bool        no-go decision -> ``p_nogo``; with ``go``: ``p_consider``
``reject``      bool        frequentist test rejects H0 -> ``p_reject``
``failed``      bool        trial not analysable -> ``p_failed``
``est``         float       effect estimate (NaN = none) -> ``mean_est``, ``bias``, ``rmse``
``true``        float       true effect of that trial -> ``mean_true`` (and the errors above)
``n_total``     float       randomized sample size -> ``expected_n``
``selected``    int         selected dose index, -1 = none (needs ``n_doses``) -> ``p_select``
                            (array over doses) and ``p_select_none``
``correct``     bool        correct dose selected -> ``p_correct_dose``
``td_est``      float       estimated target dose / MED (NaN = none) -> ``td_bias``, ``td_rmse``
``td_true``     float       true target dose (NaN allowed); pairs with a NaN -> ``p_td_missing``
==============  ==========  =====================================================================

Any other bool key ``k`` gives ``p_k``; any other float key gives ``mean_k`` (finite values).
Every OC ``x`` comes with ``x_mcse``: sqrt(p(1-p)/N) for proportions, sd/sqrt(N) for means and
bias, and the delta method for RMSE (``mcse(MSE) / (2 RMSE)``, using the fourth moment of the
errors).

**Design-prior error.** When true effects are resampled from a finite set of K posterior
draws, a chunk also returns ``draw_batch`` (int per trial: which of ``n_draw_batches``
contiguous batches of draws the trial's effect came from) and ``n_draw_batches``. The
decision proportions (``p_go``, ``p_nogo``, ``p_consider``, ``p_reject``,
``p_correct_dose``) then get the
cluster (batch-means) variance with the draw batches as clusters,
``V_c = B/(B-1) sum_b (S_b - p n_b)^2 / N^2`` (``S_b`` events and ``n_b`` trials in batch b),
which estimates the variance of P-hat over both the simulated trials and the draw set (the
draws are a sample of the posterior, with ESS <= K). ``x_mcse = sqrt(max(V_c, p(1-p)/N))``;
``x_mcse_draws = sqrt(max(V_c - p(1-p)/N, 0))`` is the part due to the draws (0 without
draws).

**Bounds.** Each decision proportion also gets ``x_upper`` / ``x_lower``: one-sided 95%
Clopper-Pearson bounds from the trial counts (``x_upper = 1 - 0.05^(1/N)``, about 3/N, when no
trial had the event): print "< x_upper" rather than "0.000 (0.000)" when ``x == 0``.

A chunk whose effects do not come from draws says so with ``n_draw_batches = 0`` (the
draws' part is then 0); when no chunk says anything, ``x_mcse_draws`` is NaN (unknown).

**Cell constants.** ``outcomes["constants"] = {name: float}`` (the same in every chunk of a
cell, e.g. ``go_boundary``, ``assurance_ceiling``) are passed through to :meth:`finalize`.

Sums are kept per chunk and added with :func:`math.fsum` when finalizing, so the result does
not depend on the order in which chunks are merged: a cell grown chunk by chunk equals the
cell computed at once, bit for bit. Merging two accumulators that share a chunk index is an
error (it would double count).

Examples
--------
>>> import numpy as np
>>> from msbayes.oc.accumulate import Accumulator
>>> a, b = Accumulator(), Accumulator()
>>> a.add({"go": np.array([True, False, True, True])}, chunk=0)
>>> b.add({"go": np.array([False, False])}, chunk=1)
>>> r = Accumulator.from_dict(a.merge(b).to_dict()).finalize()
>>> r["p_go"], r["n_sims"]
(0.5, 6)
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["Accumulator", "STANDARD_KEYS", "LOOK_OCS", "LOOK_CONSTANTS"]

STANDARD_KEYS = ("go", "nogo", "reject", "failed", "est", "true", "n_total", "selected", "correct", "td_est", "td_true")
_BOOL_NAMES = {"go": "p_go", "nogo": "p_nogo", "reject": "p_reject", "failed": "p_failed", "correct": "p_correct_dose"}
#: proportions that get the design-prior (draw batch) variance and Clopper-Pearson bounds
DECISION_KEYS = ("go", "nogo", "consider", "reject", "correct")
_SKIP = ("est", "true", "selected", "td_est", "td_true", "draw_batch", "est_mue")
_LOOK = re.compile(r"^(.+)_look(\d+)$")
#: per-look OCs gathered into arrays over looks (the ``look`` dimension of oc.nc)
LOOK_OCS = ("p_efficacy", "p_futility", "p_stop")
#: per-look cell constants gathered into arrays over looks (no scenario dependence)
LOOK_CONSTANTS = ("information_fraction", "bound_efficacy_z", "bound_futility_z", "bound_efficacy_effect",
                  "bound_futility_effect", "n_analysed_at_look", "n_randomised_at_look", "time_at_look")
_FORMAT = "msbayes.Accumulator/1"


def _f(x) -> float:
    return float(x)


class Accumulator:
    """Sufficient sums of per-trial outcomes, stored per chunk.

    Methods
    -------
    add(outcomes, *, chunk=None, n_doses=None)
        Add one chunk of per-trial outcomes.
    merge(other) -> Accumulator
        New accumulator with both sets of chunks (chunk indices must not overlap).
    finalize() -> dict
        OCs and their MCSEs (see module docstring).
    to_dict() / from_dict(d)
        JSON-able round trip (exact floats).
    """

    def __init__(self, *, n_doses: int | None = None):
        self._parts: dict[int, dict[str, Any]] = {}
        self.n_doses = n_doses

    # ------------------------------------------------------------------ building
    @property
    def n(self) -> int:
        """Number of trials accumulated."""
        return int(sum(p["n"] for p in self._parts.values()))

    @property
    def chunks(self) -> dict[int, int]:
        """Chunk index -> number of trials in it."""
        return {k: int(self._parts[k]["n"]) for k in sorted(self._parts)}

    def add(self, outcomes: dict[str, np.ndarray], *, chunk: int | None = None, n_doses: int | None = None) -> None:
        """Add one chunk's per-trial outcomes (all arrays the same length)."""
        if chunk is None:
            chunk = max(self._parts, default=-1) + 1
        chunk = int(chunk)
        if chunk in self._parts:
            raise ValueError(f"chunk {chunk} already accumulated")
        outcomes = dict(outcomes)
        constants = outcomes.pop("constants", None)
        n_batches = outcomes.pop("n_draw_batches", None)
        if "n_doses" in outcomes:
            n_doses = int(np.asarray(outcomes.pop("n_doses")))
        if n_doses is not None:
            if self.n_doses is not None and self.n_doses != n_doses:
                raise ValueError(f"n_doses mismatch: {self.n_doses} vs {n_doses}")
            self.n_doses = int(n_doses)
        arrays = {k: np.asarray(v) for k, v in outcomes.items()}
        lengths = {k: v.shape[0] for k, v in arrays.items() if v.ndim >= 1}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"outcome arrays differ in length: {lengths}")
        if not lengths:
            raise ValueError("no per-trial outcome arrays given")
        n = next(iter(lengths.values()))
        part: dict[str, Any] = {"n": int(n)}
        for k, v in arrays.items():
            if k in _SKIP:
                continue
            if v.dtype == bool:
                part[f"cnt_{k}"] = int(np.count_nonzero(v))
            else:
                x = v.astype(float)
                ok = np.isfinite(x)
                xs = x[ok]
                part[f"fn_{k}"] = int(ok.sum())
                part[f"f1_{k}"] = _f(xs.sum())
                part[f"f2_{k}"] = _f((xs * xs).sum())
        if "go" in arrays and "nogo" in arrays:
            part["cnt__consider"] = int(np.count_nonzero(~arrays["go"].astype(bool) & ~arrays["nogo"].astype(bool)))
        if constants:
            part["const"] = {str(k): _f(v) for k, v in constants.items()}
        if n_batches is not None:
            part["nb"] = int(np.asarray(n_batches))
        if "draw_batch" in arrays:
            if n_batches is None:
                raise ValueError("outcome 'draw_batch' needs an 'n_draw_batches' entry")
            nb = int(np.asarray(n_batches))
            lab = arrays["draw_batch"].astype(np.int64)
            if lab.size and (lab.min() < 0 or lab.max() >= nb):
                raise ValueError(f"draw_batch must be in [0, {nb - 1}]")
            bat = {"n": [int(c) for c in np.bincount(lab, minlength=nb)]}
            ev = {k: arrays[k].astype(bool) for k in ("go", "nogo", "reject", "correct") if k in arrays}
            if "go" in ev and "nogo" in ev:
                ev["consider"] = ~ev["go"] & ~ev["nogo"]
            for k, e in ev.items():
                bat[k] = [int(c) for c in np.bincount(lab[e], minlength=nb)]
            part["bat"] = bat
        if "est" in arrays:
            est = arrays["est"].astype(float)
            ok = np.isfinite(est)
            part["fn_est"] = int(ok.sum())
            part["f1_est"] = _f(est[ok].sum())
            part["f2_est"] = _f((est[ok] ** 2).sum())
            if "true" in arrays:
                tr = arrays["true"].astype(float)
                ok2 = ok & np.isfinite(tr)
                err = est[ok2] - tr[ok2]
                e2 = err * err
                part["err_n"] = int(ok2.sum())
                part["err_s1"] = _f(err.sum())
                part["err_s2"] = _f(e2.sum())
                part["err_s4"] = _f((e2 * e2).sum())
        if "est_mue" in arrays and "true" in arrays:
            em = arrays["est_mue"].astype(float)
            tr = arrays["true"].astype(float)
            ok2 = np.isfinite(em) & np.isfinite(tr)
            err = em[ok2] - tr[ok2]
            e2 = err * err
            part["mue_n"] = int(ok2.sum())
            part["mue_s1"] = _f(err.sum())
            part["mue_s2"] = _f(e2.sum())
            part["mue_s4"] = _f((e2 * e2).sum())
        if "true" in arrays:
            tr = arrays["true"].astype(float)
            ok = np.isfinite(tr)
            part["fn_true"] = int(ok.sum())
            part["f1_true"] = _f(tr[ok].sum())
            part["f2_true"] = _f((tr[ok] ** 2).sum())
        if "selected" in arrays:
            if self.n_doses is None:
                raise ValueError("outcome 'selected' needs n_doses (pass n_doses=... or an 'n_doses' entry)")
            sel = arrays["selected"].astype(np.int64)
            if sel.size and (sel.min() < -1 or sel.max() >= self.n_doses):
                raise ValueError(f"selected must be in [-1, {self.n_doses - 1}]")
            counts = np.bincount(sel + 1, minlength=self.n_doses + 1)
            part["sel"] = [int(c) for c in counts]  # [none, dose 0, dose 1, ...]
        if "td_est" in arrays or "td_true" in arrays:
            if not ("td_est" in arrays and "td_true" in arrays):
                raise ValueError("td_est and td_true must be given together")
            te = arrays["td_est"].astype(float)
            tt = arrays["td_true"].astype(float)
            ok = np.isfinite(te) & np.isfinite(tt)
            err = te[ok] - tt[ok]
            e2 = err * err
            part["td_n"] = int(ok.sum())
            part["td_missing"] = int((~ok).sum())
            part["td_s1"] = _f(err.sum())
            part["td_s2"] = _f(e2.sum())
            part["td_s4"] = _f((e2 * e2).sum())
        self._parts[chunk] = part

    def merge(self, other: Accumulator) -> Accumulator:
        """A new accumulator holding the chunks of both (indices must be disjoint)."""
        overlap = set(self._parts) & set(other._parts)
        if overlap:
            raise ValueError(f"cannot merge: chunks {sorted(overlap)} present in both accumulators")
        if self.n_doses is not None and other.n_doses is not None and self.n_doses != other.n_doses:
            raise ValueError(f"n_doses mismatch: {self.n_doses} vs {other.n_doses}")
        out = Accumulator(n_doses=self.n_doses if self.n_doses is not None else other.n_doses)
        out._parts = {**{k: dict(v) for k, v in self._parts.items()}, **{k: dict(v) for k, v in other._parts.items()}}
        return out

    # --------------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        """JSON-able representation (floats round-trip exactly through ``json``)."""
        return {"format": _FORMAT, "n_doses": self.n_doses, "parts": {str(k): v for k, v in sorted(self._parts.items())}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Accumulator:
        """Inverse of :meth:`to_dict`."""
        if d.get("format") != _FORMAT:
            raise ValueError(f"not an accumulator dict (format {d.get('format')!r}, expected {_FORMAT!r})")
        out = cls(n_doses=d.get("n_doses"))
        out._parts = {int(k): dict(v) for k, v in d["parts"].items()}
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Accumulator) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Accumulator(n={self.n}, chunks={len(self._parts)})"

    # ------------------------------------------------------------------ finalize
    def _sum(self, key: str) -> float:
        vals = [p[key] for _, p in sorted(self._parts.items()) if key in p]
        if not vals:
            return math.nan
        if all(isinstance(v, int) for v in vals):
            return sum(vals)
        return math.fsum(vals)

    def _has(self, key: str) -> bool:
        return any(key in p for p in self._parts.values())

    def finalize(self) -> dict[str, float | np.ndarray]:
        """Operating characteristics and their Monte Carlo standard errors."""
        N = self.n
        out: dict[str, float | np.ndarray] = {"n_sims": N}
        if N == 0:
            return out
        keys = sorted({k for p in self._parts.values() for k in p})

        def prop(name: str, cnt: float, n: float) -> None:
            p = cnt / n if n > 0 else math.nan
            out[name] = p
            out[f"{name}_mcse"] = math.sqrt(p * (1 - p) / n) if n > 0 else math.nan

        def mean_sd(s1: float, s2: float, n: float) -> tuple[float, float]:
            if n <= 0:
                return math.nan, math.nan
            mu = s1 / n
            var = max(s2 - n * mu * mu, 0.0) / (n - 1) if n > 1 else math.nan
            return mu, math.sqrt(var / n) if n > 1 else math.nan

        for k in keys:
            if k.startswith("cnt_") and k != "cnt__consider":
                name = k[4:]
                prop(_BOOL_NAMES.get(name, f"p_{name}"), self._sum(k), N)
        if self._has("cnt__consider"):
            prop("p_consider", self._sum("cnt__consider"), N)
        for k in keys:
            if k.startswith("fn_"):
                name = k[3:]
                oc = {"n_total": "expected_n", "est": "mean_est", "true": "mean_true",
                      "duration": "expected_duration"}.get(name, f"mean_{name}")
                mu, se = mean_sd(self._sum(f"f1_{name}"), self._sum(f"f2_{name}"), self._sum(k))
                out[oc], out[f"{oc}_mcse"] = mu, se
        if self._has("fn_est"):
            prop("p_est_missing", N - self._sum("fn_est"), N)
        if self._has("err_n"):
            self._error_ocs(out, "bias", "rmse", "err_n", "err_s1", "err_s2", "err_s4")
        if self._has("mue_n"):
            self._error_ocs(out, "bias_mue", "rmse_mue", "mue_n", "mue_s1", "mue_s2", "mue_s4")
        if self._has("sel"):
            tot = np.zeros(self.n_doses + 1, dtype=np.int64)
            for _, p in sorted(self._parts.items()):
                if "sel" in p:
                    tot += np.asarray(p["sel"], dtype=np.int64)
            ps = tot / N
            out["p_select"] = ps[1:]
            out["p_select_mcse"] = np.sqrt(ps[1:] * (1 - ps[1:]) / N)
            prop("p_select_none", float(tot[0]), N)
        if self._has("td_n"):
            self._error_ocs(out, "td_bias", "td_rmse", "td_n", "td_s1", "td_s2", "td_s4")
            prop("p_td_missing", self._sum("td_missing"), N)
        self._decision_extras(out, N)
        consts = [p["const"] for _, p in sorted(self._parts.items()) if "const" in p]
        if consts:
            first = consts[0]
            if any(not _same_constants(c, first) for c in consts[1:]):
                raise ValueError("cell constants differ between chunks (mixed configs?)")
            out.update(first)
        _look_arrays(out, N)
        _dropped_array(out, self.n_doses)
        _dose_arrays(out)
        return out

    def _decision_extras(self, out: dict, N: int) -> None:
        """Design-prior (draw batch) part of the MCSE and Clopper-Pearson bounds."""
        from scipy import special

        parts = [p for _, p in sorted(self._parts.items())]
        bats = [p.get("bat") for p in parts]
        have_bat = bool(bats) and all(b is not None for b in bats)
        # the draws' part is known to be 0 only if every chunk said it had no draw batches
        # (n_draw_batches = 0); chunks that said nothing (a cell store written before batches
        # were recorded, or a chunk function that does not report them) give NaN, never a
        # silent 0; likewise a mix of chunks with and without batches
        known_none = all(p.get("nb") == 0 for p in parts)
        mixed = not have_bat and not known_none
        for k in DECISION_KEYS:
            name = _BOOL_NAMES.get(k, f"p_{k}")
            if name not in out:
                continue
            cnt = self._sum("cnt__consider" if k == "consider" else f"cnt_{k}")
            x, n = int(round(cnt)), int(N)
            out[f"{name}_upper"] = 1.0 if x >= n else float(special.betaincinv(x + 1, n - x, 0.95))
            out[f"{name}_lower"] = 0.0 if x <= 0 else float(special.betaincinv(x, n - x + 1, 0.05))
            draws_var = 0.0
            if have_bat and all(k in b for b in bats):
                nb_ = np.sum([np.asarray(b["n"], dtype=float) for b in bats], axis=0)
                sb_ = np.sum([np.asarray(b[k], dtype=float) for b in bats], axis=0)
                B = nb_.size
                if B >= 2:
                    p = cnt / N
                    v_c = float(np.sum((sb_ - p * nb_) ** 2)) / (N * N) * B / (B - 1)
                    v_t = p * (1 - p) / N
                    draws_var = max(v_c - v_t, 0.0)
                    out[f"{name}_mcse"] = math.sqrt(v_t + draws_var)
                else:
                    draws_var = math.nan
            elif mixed:
                draws_var = math.nan
            out[f"{name}_mcse_draws"] = math.sqrt(draws_var) if math.isfinite(draws_var) else math.nan

    def _error_ocs(self, out, bias_name, rmse_name, kn, k1, k2, k4) -> None:
        n = self._sum(kn)
        if n <= 0:
            for nm in (bias_name, rmse_name):
                out[nm] = out[f"{nm}_mcse"] = math.nan
            return
        s1, s2, s4 = self._sum(k1), self._sum(k2), self._sum(k4)
        bias = s1 / n
        mse = s2 / n
        out[bias_name] = bias
        out[f"{bias_name}_mcse"] = math.sqrt(max(s2 - n * bias * bias, 0.0) / (n - 1) / n) if n > 1 else math.nan
        rmse = math.sqrt(mse)
        out[rmse_name] = rmse
        if n > 1 and rmse > 0:
            var_sq = max(s4 - n * mse * mse, 0.0) / (n - 1)
            out[f"{rmse_name}_mcse"] = math.sqrt(var_sq / n) / (2 * rmse)
        else:
            out[f"{rmse_name}_mcse"] = math.nan


def _same_constants(a: dict, b: dict) -> bool:
    """Equal constant dicts, NaN equal to NaN (a per-look constant may be NaN)."""
    if a.keys() != b.keys():
        return False
    return all(x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in ((a[k], b[k]) for k in a))


_DROPPED = re.compile(r"^p_dropped_dose(\d+)_look(\d+)(_mcse)?$")


def _dropped_array(out: dict, n_doses: int | None) -> None:
    """Gather ``p_dropped_dose{d}_look{k}`` (+ ``_mcse``; ``d`` = 0-based active dose) into
    ``p_dropped`` / ``p_dropped_mcse`` of shape (dose, look): the probability that a dose is
    dropped at that look. The dose axis is the design's dose list with placebo first, so
    placebo's row (never dropped) is NaN and active dose ``d`` is row ``d + 1``. The scalar
    entries are removed."""
    hits = {k: _DROPPED.match(k) for k in out}
    hits = {k: m for k, m in hits.items() if m is not None}
    if not hits:
        return
    n_active = max(int(m.group(1)) for m in hits.values()) + 1
    K = max(int(m.group(2)) for m in hits.values())
    rows = max(n_active + 1, int(n_doses or 0))
    arr = {"": np.full((rows, K), np.nan), "_mcse": np.full((rows, K), np.nan)}
    for key, m in hits.items():
        arr[m.group(3) or ""][int(m.group(1)) + 1, int(m.group(2)) - 1] = float(out.pop(key))
    out["p_dropped"], out["p_dropped_mcse"] = arr[""], arr["_mcse"]


_PER_DOSE = re.compile(r"^(p_selected|p_rejected|mean_n_arm|mean_alloc_arm)(?:_dose)?(\d+)(_mcse)?$")
#: the control's entry (index 0) of a per-dose array, when the design reports one
_CONTROL_ENTRY = {"mean_n_arm": "mean_n_control", "mean_alloc_arm": "mean_alloc_control",
                  "p_selected": "p_select_control"}


def _dose_arrays(out: dict) -> None:
    """Gather the multi-arm per-dose scalars into arrays over the design's doses (placebo first).

    ``p_selected_dose{d}`` / ``p_rejected_dose{d}`` (+ ``_mcse``; ``d`` = 0-based active dose)
    become ``p_selected`` / ``p_rejected`` (+ ``_mcse``) with placebo's entry NaN and active dose
    ``d`` at ``d + 1``; ``mean_n_arm{d}`` becomes ``mean_n_arm`` with ``mean_n_control`` first.
    ``design.type: rar`` adds ``mean_alloc_arm{d}`` -> ``mean_alloc_arm`` (``mean_alloc_control``
    first) and fills ``p_selected``'s control entry from ``p_select_control``.
    The scalar entries are removed. Nothing happens for other designs (no such keys).
    """
    hits = {k: _PER_DOSE.match(k) for k in out}
    hits = {k: m for k, m in hits.items() if m is not None}
    if not hits:
        return
    G = max(int(m.group(2)) for m in hits.values()) + 1
    arrs: dict[str, np.ndarray] = {}
    for key, m in hits.items():
        name = m.group(1) + (m.group(3) or "")
        arr = arrs.setdefault(name, np.full(G + 1, np.nan))
        arr[int(m.group(2)) + 1] = float(out.pop(key))
    for suffix in ("", "_mcse"):
        for base, ctrl in _CONTROL_ENTRY.items():
            if f"{base}{suffix}" in arrs and f"{ctrl}{suffix}" in out:
                arrs[f"{base}{suffix}"][0] = float(out[f"{ctrl}{suffix}"])
    out.update(arrs)


def _look_arrays(out: dict, N: int) -> None:
    """Gather per-look results (``name_look{k}``) into arrays over looks 1..K.

    Adds ``p_efficacy``, ``p_futility``, ``p_stop`` (+ ``_mcse``), ``cumulative_p_go`` (+
    ``_mcse``, binomial) and the per-look constants (:data:`LOOK_CONSTANTS`) as arrays, and,
    from ``p_stop`` and ``n_randomised_at_look`` / ``time_at_look``, ``n_q10``, ``n_q50``,
    ``n_q90`` and ``duration_q10``, ``duration_q50``, ``duration_q90``: quantiles of the
    randomised sample size and of the trial duration (discrete distributions on the looks'
    sizes and times, so exact given the stop proportions). The scalar ``name_look{k}`` entries are kept. Nothing is added for
    a fixed design (no ``_look{k}`` entries).
    """
    looks: dict[str, dict[int, float]] = {}
    for key, v in out.items():
        m = _LOOK.match(key)
        if m is None:
            continue
        looks.setdefault(m.group(1), {})[int(m.group(2))] = v
    if "p_stop" not in looks and not any(c in looks for c in LOOK_CONSTANTS):
        return
    for key, v in list(out.items()):  # "p_efficacy_look1_mcse" -> p_efficacy_mcse
        if key.endswith("_mcse"):
            m = _LOOK.match(key[: -len("_mcse")])
            if m is not None and m.group(1) in LOOK_OCS:
                looks.setdefault(m.group(1) + "_mcse", {})[int(m.group(2))] = v
    K = max(max(d) for d in looks.values())
    for name in (*LOOK_OCS, *(f"{x}_mcse" for x in LOOK_OCS), *LOOK_CONSTANTS):
        d = looks.get(name)
        if d is not None:
            out[name] = np.array([float(d.get(k, math.nan)) for k in range(1, K + 1)])
    if "p_efficacy" in out:
        cp = np.cumsum(out["p_efficacy"])
        out["cumulative_p_go"] = cp
        out["cumulative_p_go_mcse"] = np.sqrt(cp * (1 - cp) / N)
    if "p_stop" in out:
        # the randomised n and the duration of a trial are fixed at each look, so their
        # quantiles are exact given the stop proportions (the lower quantile: the first look
        # whose cumulative stop proportion reaches q)
        cum = np.cumsum(out["p_stop"])
        for src, prefix in (("n_randomised_at_look", "n"), ("time_at_look", "duration")):
            values = out.get(src)
            if values is None or not np.all(np.isfinite(values)):
                continue
            for q, tag in ((0.1, "q10"), (0.5, "q50"), (0.9, "q90")):
                k = int(np.searchsorted(cum, q - 1e-12, side="left"))
                out[f"{prefix}_{tag}"] = float(values[min(k, K - 1)])
