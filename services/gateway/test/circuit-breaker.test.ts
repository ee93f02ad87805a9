import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../src/upstream/circuit-breaker.ts';

function breaker() {
  let now = 0;
  const circuit = new CircuitBreaker({ failureThreshold: 3, openMs: 100, maxOpenMs: 400, now: () => now });
  return { circuit, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures; a success in between resets the count', () => {
    const { circuit } = breaker();
    circuit.onFailure();
    circuit.onFailure();
    circuit.onSuccess();
    circuit.onFailure();
    circuit.onFailure();
    assert.equal(circuit.state, 'closed');
    circuit.onFailure();
    assert.equal(circuit.state, 'open');
    assert.equal(circuit.tryAcquire(), false);
  });

  it('lets exactly one trial through when half open; its success closes the circuit', () => {
    const { circuit, advance } = breaker();
    for (let i = 0; i < 3; i++) circuit.onFailure();
    advance(100);
    assert.equal(circuit.state, 'half_open');
    assert.equal(circuit.tryAcquire(), true);
    assert.equal(circuit.tryAcquire(), false, 'one trial at a time');
    circuit.onSuccess();
    assert.equal(circuit.state, 'closed');
    assert.equal(circuit.tryAcquire(), true);
  });

  it('re-opens for twice as long after a failed trial, up to the ceiling', () => {
    const { circuit, advance } = breaker();
    for (let i = 0; i < 3; i++) circuit.onFailure();
    const openFor: number[] = [];
    for (let round = 0; round < 4; round++) {
      let waited = 0;
      while (!circuit.canAttempt()) {
        advance(10);
        waited += 10;
      }
      openFor.push(waited);
      assert.equal(circuit.tryAcquire(), true);
      circuit.onFailure();
    }
    assert.deepEqual(openFor, [100, 200, 400, 400]);
  });

  it('frees the trial slot when the trial never reports back', () => {
    const { circuit, advance } = breaker();
    for (let i = 0; i < 3; i++) circuit.onFailure();
    advance(100);
    assert.equal(circuit.tryAcquire(), true);
    advance(50);
    assert.equal(circuit.tryAcquire(), false);
    advance(50);
    assert.equal(circuit.tryAcquire(), true);
  });
});
