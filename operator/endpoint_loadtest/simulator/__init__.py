"""A SageMaker real-time endpoint simulator (`elt simulate`): SigV4-checked InvokeEndpoint,
a queueing model of instances and vCPUs, SageMaker's error shapes, truth counters and
CloudWatch metrics, so that the load tester can be exercised without an AWS account."""
