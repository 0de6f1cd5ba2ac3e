"""The core every part may import: the training loop and technique contract, budgets,
measurement, devices and seeding, datasets and loaders, reference models, checkpoints."""
from .budget import Budget, Counters, UNITS
from .checkpoint import atomic_save, load_checkpoint, safe_load, save_checkpoint
from .datasets import (CIFAR10_CLASSES, CharData, DatasetNotFoundError, ImageData, load_cifar10,
                       load_tinyshakespeare)
from .devices import default_device, seed_everything, set_threads, synchronize
from .loaders import (CharLoader, ImageLoader, batch_crop, batch_flip, evaluate_char_lm,
                      evaluate_classifier, normalize)
from .loop import TrainState, default_loss, train
from .measure import (Timing, compare, count_flops, count_train_flops, fingerprint, format_fingerprint,
                      mfu, peak_flops, print_provenance, provenance, saved_activation_bytes, throughput, time_fn,
                      time_to_target)
from .models import GPT, FastCNN, GPTConfig, count_params, resnet18_cifar
from .registry import PARTS, SUBSECTIONS, CatalogEntry
from .technique import Batch, ConflictError, Stage, Technique


from .baselines import Recipe, char_gpt, cifar_fastcnn, cifar_resnet18, run_recipe, triangular, warmup_cosine
__all__ = [n for n in dir() if not n.startswith("_")]
