import { describeTwoInstances } from '../support/two-instance-tests.js';

// Two server instances on the same PostgreSQL and Redis, as behind a load balancer (the bodies are shared with
// the Redis Cluster's run of them, redis-cluster.test.ts).
describeTwoInstances('two instances');
