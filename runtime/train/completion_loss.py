"""The SFT loss on a CPU: the vocabulary projection only where a label is.

TRL's SFTTrainer scores tokens with a fused, chunked LM head (log-probabilities, entropy and top-1
per token). Without Triton (every CPU) it projects every position, prompt tokens included, through
the 49k-entry head and computes all three over the whole vocabulary: profiled on a quickstart
LoRA step (8 rows, ~100 tokens each, ~40 of them the answer), 43% of the step. This trainer asks
the model for logits at the positions whose next token is a label (``logits_to_keep``, a tensor
of positions) and takes the cross-entropy there: the same loss (sum over label tokens divided by
the batch's label count, as TRL and transformers divide it), the same ``mean_token_accuracy``
metric; the entropy metric is not logged. On a GPU TRL's Triton kernel already projects only the
labelled positions and never holds their logits, so ftc keeps it there.
"""

from __future__ import annotations

from functools import cache

IGNORE = -100
# Above this many logits (labelled positions x vocabulary) a batch's logits and their gradient
# would outgrow the activations the memory model counts: TRL's chunked head is used instead.
MAX_LOGITS = 64 * 2**20


def completion_loss_class(base: type | None = None) -> type:
    """``base`` (TRL's SFTTrainer by default) with the label-positions loss above."""
    from trl import SFTTrainer

    return _subclass(base or SFTTrainer)


@cache
def _subclass(base: type) -> type:
    import torch
    import torch.nn.functional as F

    class CompletionLossTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
            labels = inputs.get("labels")
            if return_outputs or labels is None or not self._plain_nll():
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            target = labels[:, 1:]
            positions = (target != IGNORE).any(0).nonzero().squeeze(1)
            # DDP (a launched run) wraps the model: the head is the unwrapped model's.
            vocab = self.accelerator.unwrap_model(model).get_output_embeddings().weight.shape[0]
            if positions.numel() * labels.shape[0] * vocab > MAX_LOGITS:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            forward["use_cache"] = False
            logits = model(**forward, logits_to_keep=positions).logits.float()
            kept = target[:, positions]
            count = (kept != IGNORE).sum()
            total = F.cross_entropy(logits.reshape(-1, vocab), kept.reshape(-1), ignore_index=IGNORE, reduction="sum")
            loss = total / torch.as_tensor(count if num_items_in_batch is None else num_items_in_batch).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            self._log_token_metrics(inputs, logits, kept, count, model.training)
            return loss

        def _plain_nll(self) -> bool:
            """Only the plain next-token loss: anything TRL adds to it (a loss function of the
            user's, label smoothing, DFT, MoE auxiliary loss) keeps TRL's path."""
            return (
                self.compute_loss_func is None
                and self.label_smoother is None
                and getattr(self.args, "loss_type", "nll") == "nll"
                and not getattr(self, "aux_loss_enabled", False)
            )

        def _log_token_metrics(self, inputs, logits, kept, count, training: bool) -> None:  # noqa: ANN001
            mode = "train" if training else "eval"
            with torch.no_grad():
                correct = ((logits.argmax(-1) == kept) & (kept != IGNORE)).sum()
            valid = self.accelerator.gather_for_metrics(count).sum()
            right = self.accelerator.gather_for_metrics(correct).sum()
            self._metrics[mode]["mean_token_accuracy"].append((right / valid).item() if valid > 0 else 0.0)
            if mode == "train":
                # TRL's count: real tokens (padded batches) or the flattened row (padding-free).
                if "attention_mask" in inputs:
                    local = inputs["attention_mask"].sum()
                else:
                    local = torch.tensor(inputs["position_ids"].size(1), device=inputs["position_ids"].device)
                self._total_train_tokens += self.accelerator.gather_for_metrics(local).sum().item() // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]

    return CompletionLossTrainer
