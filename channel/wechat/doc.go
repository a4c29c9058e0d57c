// Package wechat speaks the WeChat Official Account (公众号) callback
// protocol — URL verification, signatures, plain/compatible/safe modes,
// message XML, passive replies — and its API (access token, customer-service
// messages). Its Crypto (WXBizMsgCrypt) also serves package wecom. It knows
// nothing of models, conversations or the 5-second orchestration.
package wechat
