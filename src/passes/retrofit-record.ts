// The retrofit record and the JumpReLU vocabulary live in src/retrofit/record.ts, below both this layer
// and the gradient compiler; re-exported here for the pass's callers.
export * from '../retrofit/record.js';
