"""The prebuilt ``image-classifier`` trainer: a Flax MnasNet-space or NB201 network trained with optax.

Trainer args (camelCase, unknown keys are errors) are :class:`trainers_jax.trainer_args.ClassifierArgs`. The three proxy-task
levers: ``steps`` (fewer steps; the cosine schedule still decays to 0 at the last one),
``trainFraction`` (class-balanced, shuffled sub-sample of the training set) and a scaled-down model
(``width``, ``depth`` multipliers, ``imageSize``). A trial's architecture may also be an EfficientNet
compound scaling or a RandAugment policy of a base network (:mod:`trainers_jax.recipe`).

Training uses every device (of every process, with several machines) data-parallel
(:mod:`trainers_jax.parallel`), fed by a Grain stream (:mod:`trainers_jax.input_pipeline`).

A relaunched trial resumes from its orbax checkpoint with the same step count, optimizer state,
schedule and input position; the ``desired_fraction`` stop signal ends training exactly at that share
of ``steps``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from trial.context import TrialContext
from trial.dirs import numeric_entries
from trial.protocol import COMPILATION_CACHE_ENV, FAILED, FAILED_NAN, FAILED_OOM, TrialFailure
from trainers_jax.trainer_args import ClassifierArgs



def configure_jax() -> None:
    """Persistent compilation cache (XLA's GPU autotuning results are kept in it too) shared by trials."""
    import jax  # noqa: PLC0415

    cache = os.environ.get(COMPILATION_CACHE_ENV) or str(Path.home() / ".cache" / "nasctl" / "jax")
    jax.config.update("jax_compilation_cache_dir", cache)


def out_of_memory(exc: Exception, batch_size: int) -> TrialFailure | None:
    """A `failed_oom` failure for a device allocation failure (XLA's RESOURCE_EXHAUSTED status), else None."""
    import jax  # noqa: PLC0415

    if isinstance(exc, jax.errors.JaxRuntimeError) and str(exc).startswith("RESOURCE_EXHAUSTED"):
        return TrialFailure(FAILED_OOM, f"device out of memory at batch size {batch_size}: {str(exc).splitlines()[0]}")
    return None


def train(ctx: TrialContext) -> dict[str, Any]:
    from trainers_jax.distributed import ClusterError, initialize  # noqa: PLC0415

    args = ClassifierArgs.parse(ctx.args)
    configure_jax()
    try:
        initialize(os.environ)  # several machines: join them before JAX touches a device
    except ClusterError as exc:
        raise TrialFailure(FAILED, f"image-classifier: {exc}") from None
    try:
        return _train(ctx, args)
    except Exception as exc:
        failure = out_of_memory(exc, args.batch_size)
        if failure is not None:
            raise failure from None
        raise


def _open_data(ctx: TrialContext, args: ClassifierArgs) -> Any:
    from trainers_jax.data import DataError, open_dataset, subsample  # noqa: PLC0415

    try:
        return subsample(open_dataset(args.dataset, seed=ctx.seed, test_fraction=args.test_fraction),
                         args.train_fraction, seed=ctx.seed)
    except DataError as exc:
        raise TrialFailure(FAILED, f"bad training data: {exc}") from None


def _image_size(args: ClassifierArgs, data: Any) -> int:
    """imageSize, else 32 for digits, the arrays' own size, or 224 for image files."""
    if args.image_size:
        return args.image_size
    return 32 if args.dataset == "digits" else data.image_size or 224


def _recipe(ctx: TrialContext, args: ClassifierArgs, data: Any) -> Any:
    """The trial's network, multipliers, image size and augmentation (scaling and policy spaces included)."""
    from trainers_jax.recipe import RecipeError, recipe  # noqa: PLC0415

    try:
        return recipe(ctx.arch(), args.base_arch, args.width, args.depth, _image_size(args, data),
                      args.scaling, args.augmentation)
    except RecipeError as exc:
        raise TrialFailure(FAILED, f"image-classifier: {exc}") from None


def _build(args: ClassifierArgs, data: Any, plan: Any, bf16: bool) -> tuple[Any, Any]:
    import jax.numpy as jnp  # noqa: PLC0415

    from trainers_jax.models import ArchitectureError, ModelConfig, build_model  # noqa: PLC0415

    config = ModelConfig(arch=plan.network, num_classes=data.num_classes, image_size=plan.image_size,
                         channels=data.channels, width=plan.width, depth=plan.depth,
                         nb201_channels=args.nb201_channels, nb201_cells=args.nb201_cells)
    try:
        return config, build_model(config, jnp.bfloat16 if bf16 else jnp.float32)
    except ArchitectureError as exc:
        raise TrialFailure(FAILED, f"architecture cannot be built: {exc}") from None


def _data_parallel(args: ClassifierArgs) -> Any:
    """Every device of the machine (of every machine, with several processes) trains on its share of the batch."""
    from trainers_jax.parallel import BatchSizeError, DataParallel  # noqa: PLC0415

    parallel = DataParallel.over()
    try:
        parallel.check_batch_size(args.batch_size)
    except BatchSizeError as exc:
        raise TrialFailure(FAILED, f"image-classifier: {exc}") from None
    return parallel


class _Input:
    """The trial's input: a resumable training stream and a fresh pass over the test set per evaluation."""

    def __init__(self, ctx: TrialContext, args: ClassifierArgs, data: Any, plan: Any):
        import jax  # noqa: PLC0415

        from trainers_jax import input_pipeline  # noqa: PLC0415
        from trainers_jax.preprocess import Preprocess  # noqa: PLC0415

        self.data, self.eval_batch_size = data, args.eval_batch_size
        self.workers = input_pipeline.default_workers(data.encoded) if args.data_workers is None else args.data_workers
        self.eval_preprocess = Preprocess(plan.image_size, data.scale, data.encoded, train=False)
        self.train = input_pipeline.train_batches(
            data.train, Preprocess(plan.image_size, data.scale, data.encoded, augment=plan.augment),
            input_pipeline.Stream(args.batch_size, jax.process_index(), jax.process_count(), self.workers), ctx.seed)

    def test(self) -> Any:
        from trainers_jax.input_pipeline import eval_batches  # noqa: PLC0415

        return eval_batches(self.data.test, self.eval_preprocess, self.eval_batch_size, self.workers)

    def close(self) -> None:
        self.train.close()  # stops its worker processes


def _train(ctx: TrialContext, args: ClassifierArgs) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.data import DataError  # noqa: PLC0415
    from trainers_jax.models import ArchitectureError  # noqa: PLC0415

    data = _open_data(ctx, args)
    plan = _recipe(ctx, args, data)
    bf16 = training.use_bf16() if args.bf16 is None else args.bf16
    config, model = _build(args, data, plan, bf16)
    try:
        cfg = training.TrainConfig(args.steps, args.batch_size, args.learning_rate, args.warmup_steps,
                                   args.optimizer, args.momentum, args.weight_decay, args.label_smoothing,
                                   args.clip_norm, args.ema_decay)
    except ValueError as exc:
        raise TrialFailure(FAILED, f"image-classifier: {exc}") from None
    parallel = _data_parallel(args)
    tx = training.make_optimizer(cfg)
    sample = np.zeros((1, plan.image_size, plan.image_size, data.channels), np.float32)
    try:
        state = parallel.replicate(training.init_state(model, tx, cfg, sample, ctx.seed))
    except (ArchitectureError, TypeError, ValueError) as exc:  # shapes that do not fit the input
        raise TrialFailure(FAILED, f"architecture cannot be built: {type(exc).__name__}: {exc}") from None
    inputs = _Input(ctx, args, data, plan)
    checkpoints = training.Checkpointer(ctx.checkpoint_dir())
    try:
        if checkpoints.latest_step() is not None:
            state, data_state = checkpoints.restore(state)
            inputs.train.set_state(data_state)
        state, metrics = _loop(ctx, args, cfg, model, tx, inputs, state, checkpoints, parallel)
    except DataError as exc:  # an image that cannot be decoded, found by a worker
        raise TrialFailure(FAILED, f"bad training data: {exc}") from None
    finally:
        checkpoints.close()
        inputs.close()
    variables = {"params": training.eval_params(state), "batch_stats": state["batch_stats"]}
    return _finish(ctx, args, config, variables, metrics)


def _cycle_end(ctx: TrialContext, args: ClassifierArgs, cfg: Any, step: int) -> int:
    """The step this cycle trains to (`step` itself: stop now), decided by process 0 for every process.

    Cycles end at multiples of `evalEvery` (the same cycles as an unbroken run) or at the desired
    fraction of the stop signal; a time limit or a reached fraction stops before the cycle.
    """
    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.distributed import agree  # noqa: PLC0415

    end = step
    if not ctx.should_stop(step / cfg.steps):
        end = min(cfg.steps, (step // args.eval_every + 1) * args.eval_every)
        desired = ctx.stop_signal().desired_fraction
        if desired is not None:
            end = min(end, max(step + 1, training.steps_for_fraction(desired, cfg.steps)))
    return agree(end)


def _loop(ctx: TrialContext, args: ClassifierArgs, cfg: Any, model: Any, tx: Any, inputs: _Input,
          state: Any, checkpoints: Any, parallel: Any) -> tuple[Any, dict[str, Any]]:
    """Evaluate every `evalEvery` steps; check stop signals before every cycle; checkpoint after it."""
    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.distributed import is_writer  # noqa: PLC0415

    normalize = training.Normalize(inputs.data.mean, inputs.data.std)
    step_fn = training.make_train_step(model, tx, cfg, inputs.data.num_classes, parallel, normalize)
    evaluate = training.make_evaluator(model, min(args.eval_batch_size, len(inputs.data.test)), parallel, normalize)
    # Training time leaves evaluations and checkpoints out, and goes on from the last launch's (seed doc: the
    # time of a training cycle must not include the validation score's evaluation).
    step, trained_seconds = int(state["step"]), ctx.resumed_seconds
    metrics: dict[str, Any] = {}
    while step < cfg.steps and (end := _cycle_end(ctx, args, cfg, step)) > step:
        started = time.monotonic()
        for _ in range(step, end):
            state, loss = step_fn(state, *parallel.shard(next(inputs.train)))
        step = end
        if not bool(state["finite"]):  # waits for the cycle's last step
            raise TrialFailure(FAILED_NAN, f"training loss became NaN/Inf by step {step} "
                                           f"(learning rate {training.learning_rate(state):.3g}, last loss {float(loss)})")
        trained_seconds += time.monotonic() - started
        metrics = {**evaluate(state, inputs.test()), "train_loss": float(loss),
                   "learning_rate": training.learning_rate(state)}
        if is_writer():
            ctx.report(step, metrics, fraction=step / cfg.steps, seconds=trained_seconds)
        checkpoints.save(state, inputs.train.get_state())  # every process: orbax coordinates the hosts
    if not metrics:  # relaunched with nothing left to train: still report the restored model's accuracy
        metrics = {**evaluate(state, inputs.test()), "learning_rate": training.learning_rate(state)}
    return state, {**metrics, "steps": step, "train_seconds": trained_seconds}


def _finish(ctx: TrialContext, args: ClassifierArgs, config: Any, variables: Any,
            metrics: dict[str, Any]) -> dict[str, Any]:
    """Save the trained model, then measure (or wait for) its latency."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from trainers_jax.saved_model import save_model  # noqa: PLC0415

    from trainers_jax.distributed import is_writer  # noqa: PLC0415

    metrics["num_params"] = float(sum(x.size for x in jax.tree_util.tree_leaves(variables["params"])))
    if not is_writer():  # process 0 saves the model and measures its latency
        return metrics
    variables = jax.tree_util.tree_map(lambda x: np.asarray(x.addressable_data(0)), variables)  # replicated
    save_model(ctx.dir.path, config, variables)
    if args.latency is not None:
        from trainers_jax.latency_calculator import LatencyError, run_calculator  # noqa: PLC0415
        from latency.measure import LatencyOptions  # noqa: PLC0415

        try:
            latency = run_calculator(ctx.dir.path, LatencyOptions(**args.latency.model_dump()))
        except LatencyError as exc:
            raise TrialFailure(FAILED, str(exc)) from None
        metrics.update(numeric_entries(latency))
    elif args.wait_for_latency_seconds is not None:
        metrics.update(numeric_entries(_wait_for_latency(ctx, args.wait_for_latency_seconds)))
    return metrics


def _wait_for_latency(ctx: TrialContext, timeout: float, poll: float = 1.0) -> dict[str, Any]:
    """Vertex's on-prem flow: an external latency worker measures the saved model and writes latency.json."""
    deadline = time.monotonic() + timeout
    while (latency := ctx.dir.read_latency()) is None:
        if time.monotonic() >= deadline:
            raise TrialFailure(FAILED, f"no latency.json from a latency worker within {timeout:.0f} s")
        time.sleep(poll)
    if "error" in latency:
        raise TrialFailure(FAILED, f"latency worker failed: {latency['error']}")
    return latency
