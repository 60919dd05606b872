import { replicaStrategyContract } from '@sluice/testing/strategy'
import { leastInFlight, roundRobin, weighted } from '../src/index.js'
import { preferring } from './helpers.js'

// Every strategy the router ships, and the one its tests use, keeps the ReplicaStrategy contract.
replicaStrategyContract('round-robin', roundRobin)
replicaStrategyContract('least-in-flight', leastInFlight)
replicaStrategyContract('weighted', () => weighted({ 'replica-1': 3, 'replica-3': 2 }))
replicaStrategyContract('preferring (tests)', () => preferring('replica-2'))
