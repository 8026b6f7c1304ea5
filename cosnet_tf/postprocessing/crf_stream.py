"""The CRF as a stage that wraps a stream of segmented frames."""
import numpy as np


def _refine_one(crf, frame, probability):
    # A writable copy: frames decoded by Pillow are read-only views, which
    # pydensecrf refuses ("buffer source array is read-only").
    refined = crf(np.array(frame, np.uint8), np.clip(probability, 0.0, 1.0))
    return np.asarray(refined, np.float32)


def refine_stream(results, crf, workers=1):
    """Refines each ``(index, probability, frame)`` of a stream with `crf`, in order.

    Args:
        results: an iterable of ``(index, float32 [H, W] probability, uint8
            [H, W, 3] frame)``, as `stream_video` yields with frames kept.
        crf: a `DenseCRF` (or a callable ``(frame, probability)``); None
            passes the stream through.
        workers: processes the CRF runs in. It is single-threaded and, at
            480p, slower than the model: with more than 1, frames are refined
            in a process pool while the model works on the next ones, at most
            ``2 * workers`` frames in flight (`crf` must then be picklable, as
            a `DenseCRF` is).

    Yields:
        ``(index, refined probability, frame)``, in the order of `results`.

    Example:

    >>> import numpy as np
    >>> frame = np.zeros((4, 4, 3), np.uint8)
    >>> stream = [(0, np.full((4, 4), 0.7, np.float32), frame)]
    >>> [(i, float(p[0, 0])) for i, p, _ in refine_stream(stream, lambda f, p: 1.0 - p)]
    [(0, 0.3...)]
    """
    if crf is None:
        yield from results
        return
    if workers == 1:
        for index, probability, frame in results:
            yield index, _refine_one(crf, frame, probability), frame
        return
    import collections
    import concurrent.futures

    in_flight = collections.deque()
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
    try:
        for index, probability, frame in results:
            in_flight.append((index, frame, pool.submit(_refine_one, crf, frame, probability)))
            # Bounded: the model runs ahead of the CRF by a few frames only.
            if len(in_flight) >= 2 * workers:
                done_index, done_frame, future = in_flight.popleft()
                yield done_index, future.result(), done_frame
        while in_flight:
            done_index, done_frame, future = in_flight.popleft()
            yield done_index, future.result(), done_frame
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
