"""COSNet layers: co-attention variants (Eq. 1-7), the gate (Eq. 8-9), heads."""
from cosnet_tf.layers.channel_coattention import ChannelCoAttention
from cosnet_tf.layers.coattention import CoAttention
from cosnet_tf.layers.coattention_gate import CoAttentionGate
from cosnet_tf.layers.pack_to_grid import PackToGrid
from cosnet_tf.layers.resize import ResizeLike, resize_bilinear
from cosnet_tf.layers.segmentation_head import SegmentationHead
from cosnet_tf.layers.symmetric_coattention import SymmetricCoAttention
from cosnet_tf.layers.vanilla_coattention import VanillaCoAttention

COATTENTION_VARIANTS = {
    "vanilla": VanillaCoAttention,
    "symmetric": SymmetricCoAttention,
    "channel": ChannelCoAttention,
}

__all__ = [
    "COATTENTION_VARIANTS",
    "ChannelCoAttention",
    "CoAttention",
    "CoAttentionGate",
    "PackToGrid",
    "ResizeLike",
    "SegmentationHead",
    "SymmetricCoAttention",
    "VanillaCoAttention",
    "resize_bilinear",
]
