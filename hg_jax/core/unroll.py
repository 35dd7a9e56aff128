"""The only inner loop: K SGD steps on K batches as one ``lax.scan``, differentiable end to end.

``batches`` is a dict of arrays with a leading K axis (image, target, mask: (K, B, H, W, C)). The
optimizer state is part of the carry, so any optax optimizer unrolls. ``remat=True`` wraps the scan
body in ``jax.checkpoint``: reverse mode then stores only the carry per step and recomputes the
step's activations, trading ~one extra forward per step for memory that no longer grows with the
activations of every step.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def make_train_loss(apply_fn: Callable, task) -> Callable:
    """Training loss with intermediate supervision: the task loss summed over every model output."""

    def train_loss(params, batch):
        outputs = apply_fn(params, batch["image"])
        return sum(task.loss(o, batch) for o in outputs)

    return train_loss


def make_val_loss(apply_fn: Callable, task) -> Callable:
    """Validation loss L: the task loss of the final output only."""

    loss = getattr(task, "val_loss", task.loss)   # a task may measure L differently from training

    def val_loss(params, batch):
        return loss(apply_fn(params, batch["image"])[-1], batch)

    return val_loss


def train(params, opt_state, batches, *, loss_fn: Callable, optimizer: optax.GradientTransformation,
          remat: bool = False):
    """K steps of ``optimizer`` on ``loss_fn``; returns (params_K, opt_state_K, per-step losses)."""

    def step(carry, batch):
        p, s = carry
        loss, grads = jax.value_and_grad(loss_fn)(p, batch)
        updates, s = optimizer.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), loss

    if remat:
        step = jax.checkpoint(step)
    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
    return params, opt_state, losses


def train_python_loop(params, opt_state, batches, *, loss_fn, optimizer):
    """Reference unroll with a Python loop; tests check ``train`` against it."""
    k = jax.tree_util.tree_leaves(batches)[0].shape[0]
    losses = []
    for i in range(k):
        batch = jax.tree_util.tree_map(lambda a: a[i], batches)
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        losses.append(loss)
    return params, opt_state, jnp.stack(losses)


def make_meta_grad(*, train_loss: Callable, val_loss: Callable, optimizer, remat: bool = False,
                   loop: Callable = train):
    """-> jitted f(params, opt_state, X, val_batch) -> (L, ∂L/∂X, params_K, opt_state_K, train_losses).

    L is the validation loss of the network after training on X; ∂L/∂X has X's structure: one
    array per training image, label and mask, by reverse mode through the unroll.
    """
    kwargs = {"loss_fn": train_loss, "optimizer": optimizer}
    if loop is train:
        kwargs["remat"] = remat

    def meta_loss(batches, params, opt_state, val_batch):
        p, s, losses = loop(params, opt_state, batches, **kwargs)
        return val_loss(p, val_batch), (p, s, losses)

    def meta_grad(params, opt_state, batches, val_batch):
        (L, (p, s, losses)), dX = jax.value_and_grad(meta_loss, has_aux=True)(
            batches, params, opt_state, val_batch)
        return L, dX, p, s, losses

    return jax.jit(meta_grad)


def make_train_only(*, train_loss: Callable, val_loss: Callable, optimizer):
    """-> jitted f(params, opt_state, X, val_batch) -> (L, params_K, opt_state_K, train_losses): no
    gradient, so no activations are kept and ``remat`` has nothing to save."""

    def run(params, opt_state, batches, val_batch):
        p, s, losses = train(params, opt_state, batches, loss_fn=train_loss, optimizer=optimizer)
        return val_loss(p, val_batch), p, s, losses

    return jax.jit(run)
