// UI strings in Chinese and English. The language comes from the browser
// unless the user picked one (remembered in localStorage).
const strings = {
  zh: {
    appName: "智言", signIn: "登录", signOut: "退出登录", name: "用户名", password: "密码",
    setupTitle: "创建管理员账号", setupHint: "这是首次启动：请设置管理员的用户名和密码（至少 8 位）。", createAdmin: "创建并登录",
    newChat: "新对话", search: "搜索对话…", rename: "重命名", delete: "删除", exportMd: "导出 Markdown", exportJson: "导出 JSON",
    confirmDelete: "确定删除这个对话吗？", renamePrompt: "新的标题：", untitled: "新对话",
    send: "发送", stop: "停止", placeholder: "输入消息，Enter 发送，Shift+Enter 换行", regenerate: "重新生成", edit: "编辑",
    copy: "复制", copied: "已复制", save: "保存", cancel: "取消", saveSend: "保存并发送", reasoning: "思考过程",
    interrupted: "（已中断）", error: "出错了", settings: "对话设置", systemPrompt: "系统提示词", temperature: "温度",
    topP: "Top P", maxTokens: "最大长度（0 = 不限）", think: "深度思考", thinkDefault: "默认", on: "开", off: "关",
    startTitle: "今天想做点什么？", startHint: "选一个场景开始，或直接输入问题。",
    office: "办公", writing: "写作", life: "生活", mine: "我的", addPreset: "添加场景", editPreset: "编辑场景",
    category: "分类", presetName: "名称", prompt: "提示词", restorePresets: "恢复内置场景", hidePreset: "隐藏",
    admin: "管理", users: "用户", keys: "API 密钥", addUser: "添加用户", isAdmin: "管理员", disable: "停用", enable: "启用",
    resetPassword: "重置密码", newPasswordPrompt: "新密码（至少 8 位）：", disabled: "已停用", createKey: "创建密钥",
    keyName: "密钥名称", owner: "所属用户", rpm: "每分钟请求数（0 = 不限）", quota: "Token 配额（0 = 不限）",
    keyShownOnce: "请立即复制保存，这个密钥只显示这一次：", revoke: "撤销", revoked: "已撤销", used: "已用",
    close: "关闭", model: "模型", theme: "切换深色/浅色", language: "English", menu: "菜单",
    noConversations: "还没有对话", tokens: "tokens", wrong: "用户名或密码错误", networkError: "网络错误",
    usersKeys: "用户与密钥", conversations: "对话", searchAll: "搜索所有用户的对话（标题或内容）…", loadMore: "加载更多",
    back: "← 返回", readOnly: "只读", conversationTitle: "标题", source: "来源", updated: "更新时间", noMessages: "这个对话还没有消息",
    srcWeb: "网页", srcWechat: "微信", srcWecom: "企业微信", srcFeishu: "飞书", srcDingtalk: "钉钉",
    training: "训练", runsDir: "训练目录", runsOff: "未设置训练目录（zhiyan serve --runs DIR）",
    noRuns: "{dir} 里还没有训练。开始一次：zhiyan train --out {dir}/名称 数据",
    runName: "名称", runStatus: "状态", runSteps: "步数", trainLoss: "训练损失", valLoss: "验证损失", runEvents: "事件",
    runRunning: "训练中", runFinished: "已完成", runStopped: "已停止", runDiverged: "已发散",
    learningRate: "学习率", gradNorm: "梯度范数", tokPerS: "tokens/秒", msPerStep: "毫秒/步", badLines: "跳过的坏行",
    step: "步", lossAxis: "损失（nats/token）", lossChart: "损失曲线", unigram: "一元熵", wholeSet: "全部验证集",
    eventKind: "类型", eventAction: "处理", eventDetail: "详情", noEvents: "监控没有发现异常",
    runSettings: "设置", runLog: "日志（最近几行）",
    ev_nan: "NaN/Inf", ev_loss_spike: "损失尖峰", ev_norm_spike: "梯度尖峰", ev_divergence: "发散",
    ev_non_convergence: "不收敛", ev_clip_saturation: "裁剪饱和", ev_update_ratio: "更新比例异常", ev_bad_init: "初始化异常",
  },
  en: {
    appName: "Zhiyan", signIn: "Sign in", signOut: "Sign out", name: "Name", password: "Password",
    setupTitle: "Create the administrator", setupHint: "First start: choose the administrator's name and password (8 characters or more).", createAdmin: "Create and sign in",
    newChat: "New chat", search: "Search chats…", rename: "Rename", delete: "Delete", exportMd: "Export Markdown", exportJson: "Export JSON",
    confirmDelete: "Delete this conversation?", renamePrompt: "New title:", untitled: "New chat",
    send: "Send", stop: "Stop", placeholder: "Message — Enter to send, Shift+Enter for a new line", regenerate: "Regenerate", edit: "Edit",
    copy: "Copy", copied: "Copied", save: "Save", cancel: "Cancel", saveSend: "Save and send", reasoning: "Reasoning",
    interrupted: "(interrupted)", error: "Error", settings: "Chat settings", systemPrompt: "System prompt", temperature: "Temperature",
    topP: "Top P", maxTokens: "Max tokens (0 = no limit)", think: "Thinking", thinkDefault: "Default", on: "On", off: "Off",
    startTitle: "What shall we do today?", startHint: "Pick a scenario to start, or just ask.",
    office: "Office", writing: "Writing", life: "Life", mine: "Mine", addPreset: "Add scenario", editPreset: "Edit scenario",
    category: "Category", presetName: "Name", prompt: "Prompt", restorePresets: "Restore built-in scenarios", hidePreset: "Hide",
    admin: "Admin", users: "Users", keys: "API keys", addUser: "Add user", isAdmin: "Administrator", disable: "Disable", enable: "Enable",
    resetPassword: "Reset password", newPasswordPrompt: "New password (8 characters or more):", disabled: "disabled", createKey: "Create key",
    keyName: "Key name", owner: "User", rpm: "Requests per minute (0 = unlimited)", quota: "Token quota (0 = unlimited)",
    keyShownOnce: "Copy it now — this key is shown only once:", revoke: "Revoke", revoked: "revoked", used: "used",
    close: "Close", model: "Model", theme: "Toggle dark/light", language: "中文", menu: "Menu",
    noConversations: "No conversations yet", tokens: "tokens", wrong: "Wrong name or password", networkError: "Network error",
    usersKeys: "Users & keys", conversations: "Conversations", searchAll: "Search everyone's conversations (title or text)…", loadMore: "Load more",
    back: "← Back", readOnly: "read-only", conversationTitle: "Title", source: "Source", updated: "Updated", noMessages: "No messages in this conversation",
    srcWeb: "Web", srcWechat: "WeChat", srcWecom: "WeCom", srcFeishu: "Feishu", srcDingtalk: "DingTalk",
    training: "Training", runsDir: "Runs directory", runsOff: "No runs directory set (zhiyan serve --runs DIR)",
    noRuns: "No training runs in {dir} yet. Start one: zhiyan train --out {dir}/NAME DATA",
    runName: "Name", runStatus: "Status", runSteps: "Steps", trainLoss: "Train loss", valLoss: "Validation loss", runEvents: "Events",
    runRunning: "running", runFinished: "finished", runStopped: "stopped", runDiverged: "diverged",
    learningRate: "Learning rate", gradNorm: "Gradient norm", tokPerS: "tokens/s", msPerStep: "ms/step", badLines: "Bad lines skipped",
    step: "step", lossAxis: "loss (nats/token)", lossChart: "Loss curve", unigram: "unigram entropy", wholeSet: "whole validation set",
    eventKind: "Kind", eventAction: "Action", eventDetail: "Detail", noEvents: "The monitor found nothing wrong",
    runSettings: "Settings", runLog: "Log (last lines)",
    ev_nan: "NaN/Inf", ev_loss_spike: "loss spike", ev_norm_spike: "gradient spike", ev_divergence: "divergence",
    ev_non_convergence: "not converging", ev_clip_saturation: "clipping saturated", ev_update_ratio: "update ratio", ev_bad_init: "bad initialisation",
  },
};

let lang = localStorage.getItem("zhiyan.lang") ||
  ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");

export function getLang() { return lang; }

export function setLang(l) {
  lang = l in strings ? l : "en";
  localStorage.setItem("zhiyan.lang", lang);
  applyStrings(document);
}

export function t(key) { return strings[lang][key] ?? strings.en[key] ?? key; }

// applyStrings fills the elements marked with data-i18n (text),
// data-i18n-placeholder and data-i18n-title.
export function applyStrings(root) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.title = t(el.dataset.i18nTitle);
    el.setAttribute("aria-label", el.title);
  }
}
