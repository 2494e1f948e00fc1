/**
 * Karpenter's interruption queue and the EventBridge rules that feed it, as plain data.
 *
 * With `settings.interruptionQueue` set, the controller reads EC2 spot interruption warnings, rebalance
 * recommendations, instance state changes, scheduled AWS Health events and capacity-reservation interruption warnings
 * from this SQS queue and drains the node before EC2 takes it (pkg/controllers/interruption at v1.14.1).
 * Source: aws/karpenter-provider-aws v1.14.1 (bde00654cd31), getting-started cloudformation.yaml
 * (KarpenterInterruptionQueue L381-L386; ScheduledChangeRule, SpotInterruptionRule, RebalanceRule,
 * InstanceStateChangeRule, CapacityReservationInterruptionRule L410-L464).
 */

/** Queue settings: messages older than five minutes are useless (a spot warning gives two). SSE with SQS-owned keys. */
export const interruptionQueueSettings = { messageRetentionSeconds: 300, sqsManagedSseEnabled: true } as const;

/** An EventBridge rule: its key (for resource names) and the event pattern it forwards to the queue. */
export interface InterruptionRule {
    readonly key: string;
    readonly description: string;
    readonly eventPattern: { readonly source: readonly string[]; readonly "detail-type": readonly string[] };
}

const rule = (key: string, source: string, detailType: string, description: string): InterruptionRule => ({
    key,
    description,
    eventPattern: { source: [source], "detail-type": [detailType] },
});

/** The five rules of the getting-started template. */
export const interruptionRules: readonly InterruptionRule[] = [
    rule("scheduled-change", "aws.health", "AWS Health Event", "Scheduled maintenance of instances (AWS Health)"),
    rule("spot-interruption", "aws.ec2", "EC2 Spot Instance Interruption Warning", "Spot interruption, two minutes ahead"),
    rule("rebalance", "aws.ec2", "EC2 Instance Rebalance Recommendation", "Spot rebalance recommendation"),
    rule("instance-state-change", "aws.ec2", "EC2 Instance State-change Notification", "Instance stopping or terminated outside Karpenter"),
    rule(
        "capacity-reservation-interruption",
        "aws.ec2",
        "EC2 Capacity Reservation Instance Interruption Warning",
        "Capacity reservation (interruptible) reclaimed",
    ),
];
