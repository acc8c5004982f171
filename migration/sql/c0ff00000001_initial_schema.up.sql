-- c0ff00000001_initial_schema (up): schema v0 -> v1. Frozen history: never edit; add a new migration instead.

CREATE TABLE llm_configs (
    id SERIAL NOT NULL,
    alias VARCHAR NOT NULL,
    vendor VARCHAR NOT NULL,
    provider_type VARCHAR NOT NULL,
    api_key VARCHAR NOT NULL,
    base_url VARCHAR,
    model_name VARCHAR NOT NULL,
    description TEXT,
    priority INTEGER,
    tags JSONB,
    is_active BOOLEAN,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
    CONSTRAINT llm_configs_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_llm_configs_alias ON llm_configs USING btree (alias);
CREATE INDEX ix_llm_configs_id ON llm_configs USING btree (id);

CREATE TABLE stock_daily (
    third_code VARCHAR(20) NOT NULL,
    trade_date DATE NOT NULL,
    open DOUBLE PRECISION,
    high DOUBLE PRECISION,
    low DOUBLE PRECISION,
    close DOUBLE PRECISION,
    pre_close DOUBLE PRECISION,
    change DOUBLE PRECISION,
    pct_chg DOUBLE PRECISION,
    vol DOUBLE PRECISION,
    amount DOUBLE PRECISION,
    adj_factor DOUBLE PRECISION,
    turnover_rate DOUBLE PRECISION,
    turnover_rate_f DOUBLE PRECISION,
    volume_ratio DOUBLE PRECISION,
    pe DOUBLE PRECISION,
    pe_ttm DOUBLE PRECISION,
    pb DOUBLE PRECISION,
    ps DOUBLE PRECISION,
    ps_ttm DOUBLE PRECISION,
    dv_ratio DOUBLE PRECISION,
    dv_ttm DOUBLE PRECISION,
    total_share DOUBLE PRECISION,
    float_share DOUBLE PRECISION,
    free_share DOUBLE PRECISION,
    total_mv DOUBLE PRECISION,
    circ_mv DOUBLE PRECISION,
    source VARCHAR(20),
    CONSTRAINT stock_daily_pkey PRIMARY KEY (third_code, trade_date)
);
COMMENT ON COLUMN stock_daily.third_code IS '第三方代码';
COMMENT ON COLUMN stock_daily.trade_date IS '交易日期';
COMMENT ON COLUMN stock_daily.open IS '开盘价';
COMMENT ON COLUMN stock_daily.high IS '最高价';
COMMENT ON COLUMN stock_daily.low IS '最低价';
COMMENT ON COLUMN stock_daily.close IS '收盘价';
COMMENT ON COLUMN stock_daily.pre_close IS '昨收价';
COMMENT ON COLUMN stock_daily.change IS '涨跌额';
COMMENT ON COLUMN stock_daily.pct_chg IS '涨跌幅';
COMMENT ON COLUMN stock_daily.vol IS '成交量';
COMMENT ON COLUMN stock_daily.amount IS '成交额';
COMMENT ON COLUMN stock_daily.adj_factor IS '复权因子';
COMMENT ON COLUMN stock_daily.turnover_rate IS '换手率';
COMMENT ON COLUMN stock_daily.turnover_rate_f IS '换手率(自由流通股)';
COMMENT ON COLUMN stock_daily.volume_ratio IS '量比';
COMMENT ON COLUMN stock_daily.pe IS '市盈率';
COMMENT ON COLUMN stock_daily.pe_ttm IS '市盈率TTM';
COMMENT ON COLUMN stock_daily.pb IS '市净率';
COMMENT ON COLUMN stock_daily.ps IS '市销率';
COMMENT ON COLUMN stock_daily.ps_ttm IS '市销率TTM';
COMMENT ON COLUMN stock_daily.dv_ratio IS '股息率';
COMMENT ON COLUMN stock_daily.dv_ttm IS '股息率TTM';
COMMENT ON COLUMN stock_daily.total_share IS '总股本';
COMMENT ON COLUMN stock_daily.float_share IS '流通股本';
COMMENT ON COLUMN stock_daily.free_share IS '自由流通股本';
COMMENT ON COLUMN stock_daily.total_mv IS '总市值';
COMMENT ON COLUMN stock_daily.circ_mv IS '流通市值';
COMMENT ON COLUMN stock_daily.source IS '数据来源';
CREATE INDEX ix_stock_daily_third_code ON stock_daily USING btree (third_code);
CREATE INDEX ix_stock_daily_trade_date ON stock_daily USING btree (trade_date);

CREATE TABLE stock_finance (
    third_code VARCHAR(20) NOT NULL,
    ann_date DATE NOT NULL,
    end_date DATE NOT NULL,
    eps DOUBLE PRECISION,
    dt_eps DOUBLE PRECISION,
    total_revenue_ps DOUBLE PRECISION,
    revenue_ps DOUBLE PRECISION,
    capital_rese_ps DOUBLE PRECISION,
    surplus_rese_ps DOUBLE PRECISION,
    undist_profit_ps DOUBLE PRECISION,
    extra_item DOUBLE PRECISION,
    profit_dedt DOUBLE PRECISION,
    gross_margin DOUBLE PRECISION,
    current_ratio DOUBLE PRECISION,
    quick_ratio DOUBLE PRECISION,
    cash_ratio DOUBLE PRECISION,
    inv_turn DOUBLE PRECISION,
    ar_turn DOUBLE PRECISION,
    ca_turn DOUBLE PRECISION,
    fa_turn DOUBLE PRECISION,
    assets_turn DOUBLE PRECISION,
    invturn_days DOUBLE PRECISION,
    arturn_days DOUBLE PRECISION,
    op_income DOUBLE PRECISION,
    valuechange_income DOUBLE PRECISION,
    interst_income DOUBLE PRECISION,
    daa DOUBLE PRECISION,
    ebit DOUBLE PRECISION,
    ebitda DOUBLE PRECISION,
    fcff DOUBLE PRECISION,
    fcfe DOUBLE PRECISION,
    current_exint DOUBLE PRECISION,
    noncurrent_exint DOUBLE PRECISION,
    interestdebt DOUBLE PRECISION,
    netdebt DOUBLE PRECISION,
    tangible_asset DOUBLE PRECISION,
    working_capital DOUBLE PRECISION,
    networking_capital DOUBLE PRECISION,
    invest_capital DOUBLE PRECISION,
    retained_earnings DOUBLE PRECISION,
    diluted2_eps DOUBLE PRECISION,
    bps DOUBLE PRECISION,
    ocfps DOUBLE PRECISION,
    retainedps DOUBLE PRECISION,
    cfps DOUBLE PRECISION,
    ebit_ps DOUBLE PRECISION,
    fcff_ps DOUBLE PRECISION,
    fcfe_ps DOUBLE PRECISION,
    netprofit_margin DOUBLE PRECISION,
    grossprofit_margin DOUBLE PRECISION,
    cogs_of_sales DOUBLE PRECISION,
    expense_of_sales DOUBLE PRECISION,
    profit_to_gr DOUBLE PRECISION,
    saleexp_to_gr DOUBLE PRECISION,
    adminexp_of_gr DOUBLE PRECISION,
    finaexp_of_gr DOUBLE PRECISION,
    impai_ttm DOUBLE PRECISION,
    gc_of_gr DOUBLE PRECISION,
    op_of_gr DOUBLE PRECISION,
    ebit_of_gr DOUBLE PRECISION,
    roe DOUBLE PRECISION,
    roe_waa DOUBLE PRECISION,
    roe_dt DOUBLE PRECISION,
    roa DOUBLE PRECISION,
    npta DOUBLE PRECISION,
    roic DOUBLE PRECISION,
    roe_yearly DOUBLE PRECISION,
    roa2_yearly DOUBLE PRECISION,
    roe_avg DOUBLE PRECISION,
    opincome_of_ebt DOUBLE PRECISION,
    investincome_of_ebt DOUBLE PRECISION,
    n_op_profit_of_ebt DOUBLE PRECISION,
    tax_to_ebt DOUBLE PRECISION,
    dtprofit_to_profit DOUBLE PRECISION,
    salescash_to_or DOUBLE PRECISION,
    ocf_to_or DOUBLE PRECISION,
    ocf_to_opincome DOUBLE PRECISION,
    capitalized_to_da DOUBLE PRECISION,
    debt_to_assets DOUBLE PRECISION,
    assets_to_eqt DOUBLE PRECISION,
    dp_assets_to_eqt DOUBLE PRECISION,
    ca_to_assets DOUBLE PRECISION,
    nca_to_assets DOUBLE PRECISION,
    tbassets_to_totalassets DOUBLE PRECISION,
    int_to_talcap DOUBLE PRECISION,
    eqt_to_talcapital DOUBLE PRECISION,
    currentdebt_to_debt DOUBLE PRECISION,
    longdeb_to_debt DOUBLE PRECISION,
    ocf_to_shortdebt DOUBLE PRECISION,
    debt_to_eqt DOUBLE PRECISION,
    source VARCHAR(20),
    CONSTRAINT stock_finance_pkey PRIMARY KEY (third_code, ann_date, end_date)
);
COMMENT ON COLUMN stock_finance.third_code IS '第三方代码';
COMMENT ON COLUMN stock_finance.ann_date IS '公告日期';
COMMENT ON COLUMN stock_finance.end_date IS '报告期';
COMMENT ON COLUMN stock_finance.eps IS '基本每股收益';
COMMENT ON COLUMN stock_finance.dt_eps IS '稀释每股收益';
COMMENT ON COLUMN stock_finance.total_revenue_ps IS '每股营业总收入';
COMMENT ON COLUMN stock_finance.revenue_ps IS '每股营业收入';
COMMENT ON COLUMN stock_finance.capital_rese_ps IS '每股资本公积';
COMMENT ON COLUMN stock_finance.surplus_rese_ps IS '每股盈余公积';
COMMENT ON COLUMN stock_finance.undist_profit_ps IS '每股未分配利润';
COMMENT ON COLUMN stock_finance.extra_item IS '非经常性损益';
COMMENT ON COLUMN stock_finance.profit_dedt IS '扣除非经常性损益后的净利润';
COMMENT ON COLUMN stock_finance.gross_margin IS '毛利率';
COMMENT ON COLUMN stock_finance.current_ratio IS '流动比率';
COMMENT ON COLUMN stock_finance.quick_ratio IS '速动比率';
COMMENT ON COLUMN stock_finance.cash_ratio IS '保守速动比率';
COMMENT ON COLUMN stock_finance.inv_turn IS '存货周转率';
COMMENT ON COLUMN stock_finance.ar_turn IS '应收账款周转率';
COMMENT ON COLUMN stock_finance.ca_turn IS '流动资产周转率';
COMMENT ON COLUMN stock_finance.fa_turn IS '固定资产周转率';
COMMENT ON COLUMN stock_finance.assets_turn IS '总资产周转率';
COMMENT ON COLUMN stock_finance.invturn_days IS '存货周转天数';
COMMENT ON COLUMN stock_finance.arturn_days IS '应收账款周转天数';
COMMENT ON COLUMN stock_finance.op_income IS '经营活动净收益';
COMMENT ON COLUMN stock_finance.valuechange_income IS '价值变动净收益';
COMMENT ON COLUMN stock_finance.interst_income IS '利息费用';
COMMENT ON COLUMN stock_finance.daa IS '折旧与摊销';
COMMENT ON COLUMN stock_finance.ebit IS '息税前利润';
COMMENT ON COLUMN stock_finance.ebitda IS '息税折旧摊销前利润';
COMMENT ON COLUMN stock_finance.fcff IS '企业自由现金流量';
COMMENT ON COLUMN stock_finance.fcfe IS '股权自由现金流量';
COMMENT ON COLUMN stock_finance.current_exint IS '无息流动负债';
COMMENT ON COLUMN stock_finance.noncurrent_exint IS '无息非流动负债';
COMMENT ON COLUMN stock_finance.interestdebt IS '带息债务';
COMMENT ON COLUMN stock_finance.netdebt IS '净债务';
COMMENT ON COLUMN stock_finance.tangible_asset IS '有形资产';
COMMENT ON COLUMN stock_finance.working_capital IS '营运资金';
COMMENT ON COLUMN stock_finance.networking_capital IS '营运流动资本';
COMMENT ON COLUMN stock_finance.invest_capital IS '全部投入资本';
COMMENT ON COLUMN stock_finance.retained_earnings IS '留存收益';
COMMENT ON COLUMN stock_finance.diluted2_eps IS '期末摊薄每股收益';
COMMENT ON COLUMN stock_finance.bps IS '每股净资产';
COMMENT ON COLUMN stock_finance.ocfps IS '每股经营活动产生的现金流量净额';
COMMENT ON COLUMN stock_finance.retainedps IS '每股留存收益';
COMMENT ON COLUMN stock_finance.cfps IS '每股现金流量净额';
COMMENT ON COLUMN stock_finance.ebit_ps IS '每股息税前利润';
COMMENT ON COLUMN stock_finance.fcff_ps IS '每股企业自由现金流量';
COMMENT ON COLUMN stock_finance.fcfe_ps IS '每股股权自由现金流量';
COMMENT ON COLUMN stock_finance.netprofit_margin IS '销售净利率';
COMMENT ON COLUMN stock_finance.grossprofit_margin IS '销售毛利率';
COMMENT ON COLUMN stock_finance.cogs_of_sales IS '销售成本率';
COMMENT ON COLUMN stock_finance.expense_of_sales IS '销售期间费用率';
COMMENT ON COLUMN stock_finance.profit_to_gr IS '净利润/营业总收入';
COMMENT ON COLUMN stock_finance.saleexp_to_gr IS '销售费用/营业总收入';
COMMENT ON COLUMN stock_finance.adminexp_of_gr IS '管理费用/营业总收入';
COMMENT ON COLUMN stock_finance.finaexp_of_gr IS '财务费用/营业总收入';
COMMENT ON COLUMN stock_finance.impai_ttm IS '资产减值损失/营业总收入';
COMMENT ON COLUMN stock_finance.gc_of_gr IS '营业总成本/营业总收入';
COMMENT ON COLUMN stock_finance.op_of_gr IS '营业利润/营业总收入';
COMMENT ON COLUMN stock_finance.ebit_of_gr IS '息税前利润/营业总收入';
COMMENT ON COLUMN stock_finance.roe IS '净资产收益率';
COMMENT ON COLUMN stock_finance.roe_waa IS '加权平均净资产收益率';
COMMENT ON COLUMN stock_finance.roe_dt IS '净资产收益率(扣除非经常损益)';
COMMENT ON COLUMN stock_finance.roa IS '总资产报酬率';
COMMENT ON COLUMN stock_finance.npta IS '总资产净利润';
COMMENT ON COLUMN stock_finance.roic IS '投入资本回报率';
COMMENT ON COLUMN stock_finance.roe_yearly IS '年化净资产收益率';
COMMENT ON COLUMN stock_finance.roa2_yearly IS '年化总资产报酬率';
COMMENT ON COLUMN stock_finance.roe_avg IS '平均净资产收益率';
COMMENT ON COLUMN stock_finance.opincome_of_ebt IS '经营活动净收益/利润总额';
COMMENT ON COLUMN stock_finance.investincome_of_ebt IS '价值变动净收益/利润总额';
COMMENT ON COLUMN stock_finance.n_op_profit_of_ebt IS '营业外收支净额/利润总额';
COMMENT ON COLUMN stock_finance.tax_to_ebt IS '所得税/利润总额';
COMMENT ON COLUMN stock_finance.dtprofit_to_profit IS '扣除非经常损益后的净利润/净利润';
COMMENT ON COLUMN stock_finance.salescash_to_or IS '销售商品提供劳务收到的现金/营业收入';
COMMENT ON COLUMN stock_finance.ocf_to_or IS '经营活动产生的现金流量净额/营业收入';
COMMENT ON COLUMN stock_finance.ocf_to_opincome IS '经营活动产生的现金流量净额/经营活动净收益';
COMMENT ON COLUMN stock_finance.capitalized_to_da IS '资本支出/折旧和摊销';
COMMENT ON COLUMN stock_finance.debt_to_assets IS '资产负债率';
COMMENT ON COLUMN stock_finance.assets_to_eqt IS '权益乘数';
COMMENT ON COLUMN stock_finance.dp_assets_to_eqt IS '权益乘数(杜邦分析)';
COMMENT ON COLUMN stock_finance.ca_to_assets IS '流动资产/总资产';
COMMENT ON COLUMN stock_finance.nca_to_assets IS '非流动资产/总资产';
COMMENT ON COLUMN stock_finance.tbassets_to_totalassets IS '有形资产/总资产';
COMMENT ON COLUMN stock_finance.int_to_talcap IS '带息债务/全部投入资本';
COMMENT ON COLUMN stock_finance.eqt_to_talcapital IS '归属于母公司的股东权益/全部投入资本';
COMMENT ON COLUMN stock_finance.currentdebt_to_debt IS '流动负债/负债合计';
COMMENT ON COLUMN stock_finance.longdeb_to_debt IS '非流动负债/负债合计';
COMMENT ON COLUMN stock_finance.ocf_to_shortdebt IS '经营活动产生的现金流量净额/流动负债';
COMMENT ON COLUMN stock_finance.debt_to_eqt IS '产权比率';
COMMENT ON COLUMN stock_finance.source IS '数据来源';
CREATE INDEX ix_stock_finance_ann_date ON stock_finance USING btree (ann_date);
CREATE INDEX ix_stock_finance_end_date ON stock_finance USING btree (end_date);
CREATE INDEX ix_stock_finance_third_code ON stock_finance USING btree (third_code);

CREATE TABLE stock_info (
    id SERIAL NOT NULL,
    third_code VARCHAR(20) NOT NULL,
    symbol VARCHAR(10) NOT NULL,
    name VARCHAR(100) NOT NULL,
    area VARCHAR(50),
    industry VARCHAR(50),
    market VARCHAR(20),
    list_date DATE,
    fullname VARCHAR(200),
    enname VARCHAR(200),
    cnspell VARCHAR(50),
    exchange VARCHAR(20),
    curr_type VARCHAR(20),
    list_status VARCHAR(10),
    delist_date DATE,
    is_hs VARCHAR(10),
    source VARCHAR(20),
    last_finance_sync_date DATE,
    CONSTRAINT stock_info_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN stock_info.third_code IS '第三方代码';
COMMENT ON COLUMN stock_info.symbol IS '股票代码';
COMMENT ON COLUMN stock_info.name IS '股票名称';
COMMENT ON COLUMN stock_info.area IS '所在地域';
COMMENT ON COLUMN stock_info.industry IS '所属行业';
COMMENT ON COLUMN stock_info.market IS '市场类型';
COMMENT ON COLUMN stock_info.list_date IS '上市日期';
COMMENT ON COLUMN stock_info.fullname IS '股票全称';
COMMENT ON COLUMN stock_info.enname IS '英文全称';
COMMENT ON COLUMN stock_info.cnspell IS '拼音缩写';
COMMENT ON COLUMN stock_info.exchange IS '交易所代码';
COMMENT ON COLUMN stock_info.curr_type IS '交易货币';
COMMENT ON COLUMN stock_info.list_status IS '上市状态 L上市 D退市 P暂停上市';
COMMENT ON COLUMN stock_info.delist_date IS '退市日期';
COMMENT ON COLUMN stock_info.is_hs IS '是否沪深港通标的，N否 H沪股通 S深股通';
COMMENT ON COLUMN stock_info.source IS '数据来源';
COMMENT ON COLUMN stock_info.last_finance_sync_date IS '上次财务数据同步时间';
CREATE INDEX ix_stock_info_id ON stock_info USING btree (id);
CREATE INDEX ix_stock_info_industry ON stock_info USING btree (industry);
CREATE INDEX ix_stock_info_market ON stock_info USING btree (market);
CREATE UNIQUE INDEX ix_stock_info_symbol ON stock_info USING btree (symbol);
CREATE UNIQUE INDEX ix_stock_info_third_code ON stock_info USING btree (third_code);
