import numpy as np

from perform.vision.filters import OneEuro

FPS = 30.0


BODY_PX = 300.0  # the filter's scale: a body about 300 px across, as MediaPipe measures it


def run(filter_: OneEuro, signal: np.ndarray) -> np.ndarray:
    return np.array([filter_(np.array([x]), i / FPS, BODY_PX)[0] for i, x in enumerate(signal)])


def test_one_euro_removes_jitter_when_still():
    rng = np.random.default_rng(0)
    noisy = 640 + rng.normal(0, 1.5, 300)  # a held pose: landmark noise of 1.5 px
    default = run(OneEuro(), noisy)  # MediaPipe's settings favour low lag
    steady = run(OneEuro(beta=5.0), noisy)  # a steadier setting for slow pieces
    assert default[60:].std() < 0.75 * noisy[60:].std()
    assert steady[60:].std() < 0.35 * noisy[60:].std()
    assert abs(steady[60:].mean() - 640) < 0.5


def test_one_euro_follows_fast_motion_with_little_lag():
    t = np.arange(120) / FPS
    ramp = 100 + 600 * t  # a hand sweeping 600 px (two body sizes) per second
    fast = run(OneEuro(), ramp)
    slow = run(OneEuro(beta=0.0), ramp)  # a plain low-pass at the same still cutoff
    lag_fast = (ramp[60:] - fast[60:]).mean() / 600
    lag_slow = (ramp[60:] - slow[60:]).mean() / 600
    assert lag_fast < 0.01  # seconds
    assert lag_fast < 0.01 * lag_slow


def test_prediction_cancels_lag_on_steady_motion():
    f = OneEuro(min_cutoff=1.0, beta=0.0)
    t = np.arange(90) / FPS
    for ti in t:
        f(np.array([0.6 * ti]), ti)
    truth_now = 0.6 * t[-1]
    plain_error = abs(truth_now - f.value[0])
    latency = 0.05
    predicted = f.predict(latency)[0]
    assert abs(truth_now + 0.6 * latency - predicted) < 0.5 * abs(truth_now + 0.6 * latency - f.value[0])
    assert plain_error > 0.01


def test_repeated_or_backward_time_keeps_the_value():
    f = OneEuro()
    first = f(np.array([1.0, 2.0]), 1.0)
    again = f(np.array([5.0, 5.0]), 1.0)
    back = f(np.array([5.0, 5.0]), 0.5)
    assert np.array_equal(first, again) and np.array_equal(first, back)
    assert np.isfinite(f(np.array([1.0, 2.0]), 1.0 + 1e-9, scale=0.0)).all()
