package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	origins "github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudfront"
	"github.com/aws/jsii-runtime-go"
)

// OriginHeader is the header CloudFront adds to every request to the ALB; Easel
// (EASEL_ORIGIN_SECRET) rejects requests without it, except GET /healthz and GET
// /readyz asked by the instance itself (loopback, the boot script's readiness check)
// or by the ALB's health checker (a private peer, no X-Forwarded-For).
const OriginHeader = "X-Origin-Verify"

// originReadTimeout is CloudFront's wait for the ALB's answer; 60 s is the most
// CloudFront allows without a quota increase. Longer generations should use the
// asynchronous API.
const originReadTimeout = 60

// newDistribution builds CloudFront: the ALB serves the API (/v1/*, never cached,
// every method, Authorization forwarded) and the page (default behaviour); the image
// bucket serves /images/* through origin access control, cached and compressed.
// WAF, TLS 1.2+ with a domain, standard logs, and the alias records with a domain.
func newDistribution(s *mainStack, lb loadBalancer, bucket awss3.IBucket, logs awss3.IBucket, secret *string) awscloudfront.Distribution {
	api := apiOrigin(s, lb, secret)
	// Authorization can only reach the origin through the cache key, so the API
	// policy keys on it with TTLs that make every response uncacheable in practice
	// (default 0 s, at most 1 s when the origin explicitly asks for caching).
	noCache := awscloudfront.NewCachePolicy(s.stack, jsii.String("ApiCachePolicy"), &awscloudfront.CachePolicyProps{
		Comment:             jsii.String("Easel API: no caching; Authorization forwarded"),
		MinTtl:              awscdk.Duration_Seconds(jsii.Number(0)),
		DefaultTtl:          awscdk.Duration_Seconds(jsii.Number(0)),
		MaxTtl:              awscdk.Duration_Seconds(jsii.Number(1)),
		HeaderBehavior:      awscloudfront.CacheHeaderBehavior_AllowList(jsii.String("Authorization")),
		QueryStringBehavior: awscloudfront.CacheQueryStringBehavior_All(),
		CookieBehavior:      awscloudfront.CacheCookieBehavior_All(),
	})
	dynamic := &awscloudfront.BehaviorOptions{
		Origin:                api,
		AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_ALL(),
		CachePolicy:           noCache,
		OriginRequestPolicy:   awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
		ResponseHeadersPolicy: awscloudfront.ResponseHeadersPolicy_SECURITY_HEADERS(),
		ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
		Compress:              jsii.Bool(true),
	}
	images := &awscloudfront.BehaviorOptions{
		Origin:                origins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
		AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD_OPTIONS(),
		CachedMethods:         awscloudfront.CachedMethods_CACHE_GET_HEAD_OPTIONS(),
		CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
		ResponseHeadersPolicy: awscloudfront.ResponseHeadersPolicy_SECURITY_HEADERS(),
		ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
		Compress:              jsii.Bool(true),
	}
	if s.signing != nil {
		// Private images: CloudFront serves /images/* only for a URL signed with a key
		// of the group (Easel signs with the current generation's key).
		images.TrustedKeyGroups = &[]interfacesawscloudfront.IKeyGroupRef{s.signing.group}
	}
	props := &awscloudfront.DistributionProps{
		Comment:         jsii.String("Easel image service"),
		DefaultBehavior: dynamic,
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			"/v1/*":                 dynamic,
			"/" + ImagePrefix + "*": images,
		},
		WebAclId:      s.edge.webACLArn,
		HttpVersion:   awscloudfront.HttpVersion_HTTP2_AND_3,
		EnableIpv6:    jsii.Bool(true),
		PriceClass:    awscloudfront.PriceClass_PRICE_CLASS_100,
		EnableLogging: jsii.Bool(true),
		LogBucket:     logs,
		LogFilePrefix: jsii.String("cloudfront/"),
	}
	if s.cfg.HasDomain() {
		props.DomainNames = jsii.Strings(s.cfg.DomainName)
		props.Certificate = s.edge.certificate
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
	}
	dist := awscloudfront.NewDistribution(s.stack, jsii.String("Distribution"), props)
	if s.cfg.HasDomain() {
		target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewCloudFrontTarget(dist))
		awsroute53.NewARecord(s.stack, jsii.String("SiteA"), &awsroute53.ARecordProps{
			Zone: s.zone(), RecordName: jsii.String(s.cfg.DomainName), Target: target,
		})
		awsroute53.NewAaaaRecord(s.stack, jsii.String("SiteAAAA"), &awsroute53.AaaaRecordProps{
			Zone: s.zone(), RecordName: jsii.String(s.cfg.DomainName), Target: target,
		})
	}
	return dist
}

// apiOrigin is the ALB as CloudFront sees it, carrying the origin secret header.
func apiOrigin(s *mainStack, lb loadBalancer, secret *string) awscloudfront.IOrigin {
	headers := &map[string]*string{OriginHeader: secret}
	policy := awscloudfront.OriginProtocolPolicy_HTTP_ONLY
	var domain *string
	if lb.https {
		policy = awscloudfront.OriginProtocolPolicy_HTTPS_ONLY
		domain = jsii.String(s.cfg.OriginDomain())
	}
	timeout := awscdk.Duration_Seconds(jsii.Number(originReadTimeout))
	if s.cfg.VpcOrigin {
		return origins.VpcOrigin_WithApplicationLoadBalancer(lb.alb, &origins.VpcOriginWithEndpointProps{
			DomainName:         domain,
			ProtocolPolicy:     policy,
			CustomHeaders:      headers,
			ReadTimeout:        timeout,
			OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		})
	}
	if lb.https {
		return origins.NewHttpOrigin(domain, &origins.HttpOriginProps{
			ProtocolPolicy:     policy,
			CustomHeaders:      headers,
			ReadTimeout:        timeout,
			OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		})
	}
	return origins.NewLoadBalancerV2Origin(lb.alb, &origins.LoadBalancerV2OriginProps{
		ProtocolPolicy: policy,
		CustomHeaders:  headers,
		ReadTimeout:    timeout,
	})
}
