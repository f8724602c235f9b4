"""Stop a diverged run before it writes a poisoned checkpoint."""
from typing import Iterable, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmbeamclip.utils.ranges import check_range


def first_bad_tensor(named_tensors: Iterable[Tuple[str, torch.Tensor]],
                     max_abs: float) -> Optional[Tuple[str, float]]:
    """The first floating tensor that is not finite or too large.

    Args:
        named_tensors (Iterable[tuple[str, Tensor]]): ``(name, tensor)``
            pairs, e.g. ``model.named_parameters()``. Integer tensors
            (BatchNorm's ``num_batches_tracked``) are skipped.
        max_abs (float): The largest absolute value accepted; for
            BatchNorm's ``running_var`` the largest standard deviation.

    Returns:
        tuple[str, float] | None: The name and the largest absolute value
        (``nan`` or ``inf`` when not finite) of the first bad tensor, or
        None when every tensor is fine.
    """
    names, peaks = [], []
    for name, tensor in named_tensors:
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        names.append(name)
        # amax propagates NaN, so one number per tensor tells both.
        peak = tensor.detach().abs().amax().float().cpu()
        if name.endswith('running_var'):
            # A variance is a squared scale: an unnormalised first layer
            # legitimately reaches 1e6 after a few steps (std 1e3).
            peak = peak.sqrt()
        peaks.append(peak)
    if not peaks:
        return None
    peaks = torch.stack(peaks)
    bad = ~torch.isfinite(peaks) | (peaks > max_abs)
    if not bool(bad.any()):
        return None
    i = int(bad.nonzero()[0])
    return names[i], float(peaks[i])


@HOOKS.register_module()
class CheckFiniteHook(Hook):
    """Check that the trained weights stay finite and bounded.

    The bounded CSM loss keeps logging ordinary values while a too large
    learning rate drives the student's weights to 1e30 and its BatchNorm
    statistics to inf, so a diverged run otherwise ends with rc 0 and
    checkpoints that give NaN features. Every ``interval`` training
    iterations, and before every checkpoint is written, this hook checks
    the parameters and buffers (BatchNorm running statistics included) and
    the logged losses, and stops training with an error that names the
    first bad tensor. The check costs one ``abs().amax()`` per tensor.

    Args:
        interval (int): Check every this many training iterations.
            Defaults to 50.
        max_abs (float): The largest absolute value a parameter or buffer
            may hold. A trained network's weights and BatchNorm statistics
            stay within a few hundred; 1e6 only catches runs that have
            left any sensible range. Defaults to 1e6.
        skip_prefixes (Sequence[str]): Parameter names to leave out. The
            frozen teacher (``target_generator.``) never changes, so it is
            not checked every interval; it is checked when it is saved.
            Defaults to ``('target_generator.',)``.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 interval: int = 50,
                 max_abs: float = 1e6,
                 skip_prefixes: Sequence[str] = ('target_generator.', )):
        owner = 'CheckFiniteHook'
        check_range('interval', interval, 1, integer=True, owner=owner)
        check_range('max_abs', max_abs, 0, low_open=True, owner=owner)
        self.interval = int(interval)
        self.max_abs = float(max_abs)
        self.skip_prefixes = tuple(skip_prefixes)
        self.last_ok_iter = 0

    def _model_tensors(self, runner):
        model = runner.model
        model = getattr(model, 'module', model)
        for named in (model.named_parameters(), model.named_buffers()):
            for name, tensor in named:
                if not name.startswith(self.skip_prefixes):
                    yield name, tensor

    def _fail(self, iteration: int, where: str, name: str, peak: float):
        state = ('is not finite' if peak != peak or peak == float('inf')
                 else f'reached |value| {peak:.3g} > max_abs='
                 f'{self.max_abs:.3g}')
        passed = (f'last check passed at iteration {self.last_ok_iter}'
                  if self.last_ok_iter else 'no earlier check')
        raise RuntimeError(
            f'Training diverged: {name} {state} ({where}, iteration '
            f'{iteration}; {passed}). Stopped before writing a checkpoint '
            'with these weights. Lower the learning rate (or check '
            'auto_scale_lr and the batch size) and resume from the last '
            'good checkpoint.')

    def check_model(self, runner, where: str):
        """Raise if a parameter or buffer of the model is bad."""
        bad = first_bad_tensor(self._model_tensors(runner), self.max_abs)
        if bad is not None:
            self._fail(runner.iter + 1, where, *bad)
        self.last_ok_iter = runner.iter + 1

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        if outputs:
            losses = [(f'loss {k}', v) for k, v in outputs.items()
                      if isinstance(v, torch.Tensor)]
            bad = first_bad_tensor(losses, float('inf'))
            if bad is not None:
                self._fail(runner.iter + 1, 'training output', *bad)
        self.check_model(runner, 'periodic check')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', {})
        bad = first_bad_tensor(
            ((k, v) for k, v in state.items() if isinstance(v, torch.Tensor)),
            self.max_abs)
        if bad is not None:
            self._fail(runner.iter, 'before saving a checkpoint', *bad)
        self.last_ok_iter = runner.iter
