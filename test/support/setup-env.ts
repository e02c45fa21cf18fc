// Quiet the AWS SDK's Node 20 notice; tests never reach AWS.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
