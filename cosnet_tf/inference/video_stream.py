"""The one loop over a video: read frames as needed, encode each once, segment each query."""
import numpy as np

from cosnet_tf.inference.reference_feature_store import ReferenceFeatureStore


def stream_video(core, source, plan, batch_size=4, keep_frames=False, stats=None):
    """Segments every frame of `source` with `core`, in order, reading frames only as they are needed.

    The loop of `cosnet segment` (`VideoSegmenter`, `core` an `InferenceCore`)
    and of `cosnet predict` (`cosnet_tf.serving.iter_segment_video`, `core` a
    `ServedCore`): one loop, so one model gives the same masks either way.

    * Every frame goes through ``core.encode`` exactly once, ``batch_size``
      frames per call; its features live in a `ReferenceFeatureStore` until
      the last query that needs them.
    * The frames are streamed in order. A reference further ahead of its query
      than N + ``batch_size`` frames (the global sets of uniform and random
      sampling) is read and encoded first instead, so the window of decoded
      frames and cached features stays small.

    Args:
        core: an object with ``encode(uint8 [B, H, W, 3])``,
            ``stack_references(list of [h, w, C])`` and
            ``segment(query [1, h, w, C], stacked or None, frame_size)``.
        source: a `FrameSource` (`open_frame_source`).
        plan: the sorted reference indices of every query (`reference_plan`).
        batch_size: frames per ``encode`` call.
        keep_frames: yield each decoded frame too (CRF, overlays); else None.
        stats: a dict to fill with ``frames``, ``encoded`` and ``max_cached``
            (most feature maps held at once).

    Yields:
        ``(index, float32 [H, W] probability, frame or None)``.
    """
    stats = {} if stats is None else stats
    num_frames = len(source)
    if len(plan) != num_frames:
        raise ValueError(f"the plan has {len(plan)} queries for a video of {num_frames} frames")
    frame_size = tuple(source.frame_size)
    store = ReferenceFeatureStore(plan, core.stack_references)
    stats.update(frames=num_frames, encoded=0, max_cached=0)

    def encode(indexed_frames):
        for start in range(0, len(indexed_frames), batch_size):
            chunk = indexed_frames[start : start + batch_size]
            features = core.encode(np.stack([frame for _, frame in chunk]))
            for k, (index, _) in enumerate(chunk):
                store.add(index, features[k])
            stats["encoded"] += len(chunk)

    lookahead = max((len(references) for references in plan), default=0) + batch_size
    prefetch = sorted({index for query, references in enumerate(plan) for index in references
                       if index > query + lookahead})
    if prefetch:
        encode(sorted(source.read_frames(prefetch).items()))

    pending = {}  # decoded frames awaiting their own query (keep_frames)
    stream = source.iter_frames()
    next_index = 0
    try:
        for query in range(num_frames):
            need = max([query] + [index for index in plan[query] if index not in store])
            while next_index <= need:
                chunk = []
                while len(chunk) < batch_size and next_index < num_frames:
                    chunk.append(next(stream))
                    next_index += 1
                if keep_frames:
                    pending.update(chunk)
                encode([(index, frame) for index, frame in chunk if index not in store])
            probability = core.segment(store[query][None], store.references(query), frame_size)
            store.release(query)
            yield query, probability, pending.pop(query, None)
    finally:
        # An abandoned run (an error in the caller, a closed generator) still closes the file at once.
        stream.close()
        stats["max_cached"] = store.max_cached
