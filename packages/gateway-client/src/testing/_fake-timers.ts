// Timers of the fake gateway. Each one captures the clear function in force when it is created, so that a
// test that enables or resets node's mock.timers in between still releases exactly the timer it started.

/** Cancels a timer; calling it again does nothing. */
export type CancelTimer = () => void;

/** Starts a timeout (or an interval when `repeat`) on the global timer functions and returns its canceller. */
export function startTimer(fn: () => void, ms: number, repeat = false): CancelTimer {
  const clear = repeat ? clearInterval : clearTimeout;
  const handle = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    clear(handle);
  };
}
