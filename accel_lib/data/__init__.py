"""Data-centric techniques: dataset regularization, data sampling, data curriculum."""
from ..core.registry import CatalogEntry
from .batch_augment import BatchAugment, augment_batch, batch_translate, per_image_loader, per_image_transform
from .curriculum import PACINGS, Curriculum, CurriculumLoader, difficulty_order, pacing
from .cutmix import CutMix, cutmix_batch, cutmix_box
from .cutout import Cutout, cutout_batch, cutout_mask
from .data_pruning import el2n_scores, forgetting_events, proxy_scores, prune_dataset, prune_indices
from .importance_sampling import ImportanceSampling, importance_probabilities, importance_sample
from .infobatch import InfoBatch, InfoBatchLoader, infobatch_plan
from .label_smoothing import LabelSmoothing, smooth_labels
from .mixup import MixUp, mixup_batch, sample_lam, sample_pairing
from .progressive_resizing import ProgressiveResizing, image_size, resize_batch
from .randaugment import RandAugment, augment_each, make_policy
from .selective_backprop import SelectiveBackprop, select_top_loss, selection_probability
from .seq_len_warmup import SeqLenWarmup, seq_len, truncate_batch

_REG, _SAMP, _CUR = "dataset regularization", "data sampling", "data-centric curriculum learning"
_P1, _P2, _P3 = "book/data/regularization.ipynb", "book/data/sampling.ipynb", "book/data/curriculum.ipynb"

CATALOG = [
    CatalogEntry("MixUp", "data", _REG, "accel_lib.data.mixup", "time-to-accuracy (regularisation)",
                 "torchvision.transforms.v2.MixUp", _P1, make=lambda: MixUp(alpha=0.4)),
    CatalogEntry("CutMix", "data", _REG, "accel_lib.data.cutmix", "time-to-accuracy (regularisation)",
                 "torchvision.transforms.v2.CutMix", _P1, make=lambda: CutMix(alpha=1.0)),
    CatalogEntry("Cutout", "data", _REG, "accel_lib.data.cutout", "time-to-accuracy (regularisation)",
                 "torchvision.transforms.v2.functional.erase", _P1, make=lambda: Cutout(size=4)),
    CatalogEntry("Label smoothing", "data", _REG, "accel_lib.data.label_smoothing",
                 "time-to-accuracy, calibration", "F.cross_entropy(label_smoothing=)", _P1,
                 make=lambda: LabelSmoothing(eps=0.1)),
    CatalogEntry("RandAugment / TrivialAugment", "data", _REG, "accel_lib.data.randaugment",
                 "time-to-accuracy on long runs", "torchvision.transforms.v2.RandAugment", _P1,
                 make=lambda: RandAugment(num_ops=1, magnitude=5)),
    CatalogEntry("Batched on-device augmentation", "data", _REG, "accel_lib.data.batch_augment",
                 "input-pipeline wall-clock", "torchvision.transforms.v2.RandomCrop/RandomHorizontalFlip", _P1,
                 make=lambda: BatchAugment(translate=2, flip=True)),
    CatalogEntry("Importance sampling", "data", _SAMP, "accel_lib.data.importance_sampling",
                 "time-to-accuracy", "none", _P2, make=lambda: ImportanceSampling(fraction=0.5)),
    CatalogEntry("Selective-Backprop", "data", _SAMP, "accel_lib.data.selective_backprop",
                 "backward FLOPs per step", "none", _P2, make=lambda: SelectiveBackprop(fraction=0.5)),
    CatalogEntry("Static data pruning (EL2N, forgetting)", "data", _SAMP, "accel_lib.data.data_pruning",
                 "wall-clock per epoch", "none", _P2),
    CatalogEntry("InfoBatch dynamic pruning", "data", _SAMP, "accel_lib.data.infobatch",
                 "wall-clock per epoch", "none", _P2),
    CatalogEntry("Progressive resizing", "data", _CUR, "accel_lib.data.progressive_resizing",
                 "FLOPs per step early in training", "torchvision.transforms.v2.functional.resize", _P3,
                 make=lambda: ProgressiveResizing(min_scale=0.5)),
    CatalogEntry("Sequence-length warmup", "data", _CUR, "accel_lib.data.seq_len_warmup",
                 "FLOPs per step early in training, stability", "none", _P3),
    CatalogEntry("Easy-to-hard curriculum", "data", _CUR, "accel_lib.data.curriculum",
                 "time-to-accuracy (sometimes)", "none", _P3),
]

__all__ = [n for n in dir() if not n.startswith("_")]
