/**
 * Optional AWS WAF web ACL on the edge API's stage: one rate-based rule that counts requests per source IP
 * over 5 minutes and answers 429 to an address above the limit, until its rate falls below it again.
 *
 * The edge API is reached only through its custom domain (the execute-api endpoint is disabled); API Gateway
 * evaluates a web ACL on the *stage* the domain maps to, so the association is with the stage ARN. Browsers
 * connect straight to API Gateway (no CDN in front), so the source IP is the client's own address:
 * aggregating on it needs no forwarded-IP header, which a client could forge. WAF sees only requests that
 * passed the mutual TLS handshake: a client without a trusted certificate is refused before WAF, as before.
 *
 * Costs money whether or not it blocks anything: a web ACL and a rule per month, plus every request it
 * inspects (README, "Configuration").
 */
import { Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The lowest limit AWS WAF accepts for a rate-based rule (since 2024; it was 100 before). */
export const WAF_RATE_LIMIT_MIN = 10;
/** The highest limit AWS WAF accepts for a rate-based rule. */
export const WAF_RATE_LIMIT_MAX = 2_000_000_000;
/** The rule counts each address's requests over this window (AWS WAF's default; 60, 120, 300 or 600). */
export const WAF_EVALUATION_WINDOW_SECONDS = 300;
/** Status code of the answer to a rate-limited request. */
export const WAF_RATE_LIMITED_STATUS = 429;

/** Props of {@link EdgeWaf}. */
export interface EdgeWafProps {
  /** The edge API's stage (the one its custom domain maps to). */
  readonly stage: Stage;
  /** Requests one source IP may make in 5 minutes before it is answered 429 (10 to 2,000,000,000). */
  readonly rateLimitPer5Min: number;
}

/** A REGIONAL web ACL with a per-IP rate-based rule, associated with the edge API's stage. */
export class EdgeWaf extends Construct {
  public readonly webAcl: CfnWebACL;
  public readonly association: CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: EdgeWafProps) {
    super(scope, id);
    const limit = props.rateLimitPer5Min;
    if (!Number.isInteger(limit) || limit < WAF_RATE_LIMIT_MIN || limit > WAF_RATE_LIMIT_MAX) {
      throw new Error(
        `EdgeWaf rateLimitPer5Min: got ${limit}; expected a whole number from ${WAF_RATE_LIMIT_MIN} to ${WAF_RATE_LIMIT_MAX} (AWS WAF's rate-based rule limits)`,
      );
    }
    // Metric names are per account and region: prefix them with the stack so two deployments don't mix.
    const metricPrefix = Stack.of(this).stackName;
    const bodyKey = 'rate-limited';

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      description: 'plusgate edge API: per source IP rate limit',
      scope: 'REGIONAL',
      // Only the rate rule blocks; everything else goes on to API Gateway (mutual TLS already passed).
      defaultAction: { allow: {} },
      customResponseBodies: {
        [bodyKey]: {
          contentType: 'TEXT_PLAIN',
          content: 'Too many requests from your address. Wait a few minutes, then try again.\n',
        },
      },
      rules: [
        {
          name: 'RatePerSourceIp',
          priority: 0,
          statement: {
            rateBasedStatement: {
              limit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: WAF_EVALUATION_WINDOW_SECONDS,
            },
          },
          action: {
            block: {
              customResponse: {
                responseCode: WAF_RATE_LIMITED_STATUS,
                customResponseBodyKey: bodyKey,
                // The address is unblocked once its count over the window falls below the limit.
                responseHeaders: [{ name: 'Retry-After', value: String(WAF_EVALUATION_WINDOW_SECONDS) }],
              },
            },
          },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            sampledRequestsEnabled: true,
            metricName: `${metricPrefix}-EdgeRatePerSourceIp`,
          },
        },
      ],
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        sampledRequestsEnabled: true,
        metricName: `${metricPrefix}-EdgeWebAcl`,
      },
    });

    // The stage ARN holds the stage's Ref, so CloudFormation associates only once the stage exists.
    this.association = new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
