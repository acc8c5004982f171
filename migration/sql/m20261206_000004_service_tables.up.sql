-- m20261206_000004_service_tables (up): schema v11 -> v12. Frozen history once released:
-- add a new migration instead of editing.
--
-- The earlier service's own tables, exactly as its revisions c0ff00000005 and
-- c0ff00000009 … c0ff00000013 make them (concepts, the AkShare market-data pools,
-- market insight, its scheduler, the web-search cache): from here stockdb manages them.
-- Each is created only where it is missing: on a database adopted at c0ff00000013 this
-- changes nothing (not even a comment), at an earlier revision it adds the tables that
-- revision lacks, and the scheduler's default jobs with the table, as c0ff00000010 does.
-- The service's `alembic_version` then says c0ff00000013, so its `alembic upgrade head`
-- adds nothing a second time. A database at c0ff00000006 (a revision the service
-- withdrew) is not adopted, so never reaches here.

DO $$
BEGIN
    IF to_regclass('public.concept') IS NULL THEN
        CREATE TABLE concept (
            id serial NOT NULL,
            code character varying(50) NOT NULL,
            name character varying(100) NOT NULL,
            description text NULL,
            created_at timestamp without time zone NOT NULL DEFAULT now(),
            updated_at timestamp without time zone NOT NULL DEFAULT now(),
            CONSTRAINT concept_pkey PRIMARY KEY (id),
            CONSTRAINT uq_concept_code UNIQUE (code)
        );
        CREATE INDEX ix_concept_code ON concept (code);
        COMMENT ON COLUMN concept.id IS '主键ID';
        COMMENT ON COLUMN concept.code IS '概念代码';
        COMMENT ON COLUMN concept.name IS '概念名称';
        COMMENT ON COLUMN concept.description IS '概念描述';
        COMMENT ON COLUMN concept.created_at IS '创建时间';
        COMMENT ON COLUMN concept.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.concept_stock') IS NULL THEN
        CREATE TABLE concept_stock (
            id serial NOT NULL,
            concept_code character varying(50) NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            weight double precision NULL,
            created_at timestamp without time zone NOT NULL DEFAULT now(),
            updated_at timestamp without time zone NOT NULL DEFAULT now(),
            CONSTRAINT concept_stock_pkey PRIMARY KEY (id),
            CONSTRAINT uq_concept_stock_code_stock UNIQUE (concept_code, third_code),
            CONSTRAINT concept_stock_concept_code_fkey FOREIGN KEY (concept_code) REFERENCES concept(code) ON DELETE CASCADE
        );
        CREATE INDEX ix_concept_stock_concept_code ON concept_stock (concept_code);
        CREATE INDEX ix_concept_stock_third_code ON concept_stock (third_code);
        COMMENT ON COLUMN concept_stock.id IS '主键ID';
        COMMENT ON COLUMN concept_stock.concept_code IS '概念代码';
        COMMENT ON COLUMN concept_stock.third_code IS '股票代码';
        COMMENT ON COLUMN concept_stock.stock_name IS '股票名称';
        COMMENT ON COLUMN concept_stock.weight IS '权重（可选）';
        COMMENT ON COLUMN concept_stock.created_at IS '创建时间';
        COMMENT ON COLUMN concept_stock.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.de_broken_board_pool') IS NULL THEN
        CREATE TABLE de_broken_board_pool (
            id serial NOT NULL,
            trade_date date NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            pct_chg double precision NOT NULL,
            close double precision NOT NULL,
            amount double precision NOT NULL,
            turnover_rate double precision NOT NULL,
            open_count integer NOT NULL,
            first_limit_up_time character varying(20) NULL,
            last_open_time character varying(20) NULL,
            industry character varying(100) NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            CONSTRAINT de_broken_board_pool_pkey PRIMARY KEY (id),
            CONSTRAINT uq_broken_board UNIQUE (trade_date, third_code)
        );
        CREATE INDEX ix_de_broken_board_pool_id ON de_broken_board_pool (id);
        CREATE INDEX ix_de_broken_board_pool_third_code ON de_broken_board_pool (third_code);
        CREATE INDEX ix_de_broken_board_pool_trade_date ON de_broken_board_pool (trade_date);
        COMMENT ON COLUMN de_broken_board_pool.id IS '主键';
        COMMENT ON COLUMN de_broken_board_pool.trade_date IS '交易日期';
        COMMENT ON COLUMN de_broken_board_pool.third_code IS '股票代码（系统标准格式）';
        COMMENT ON COLUMN de_broken_board_pool.stock_name IS '股票名称';
        COMMENT ON COLUMN de_broken_board_pool.pct_chg IS '涨跌幅（百分比）';
        COMMENT ON COLUMN de_broken_board_pool.close IS '最新价';
        COMMENT ON COLUMN de_broken_board_pool.amount IS '成交额';
        COMMENT ON COLUMN de_broken_board_pool.turnover_rate IS '换手率';
        COMMENT ON COLUMN de_broken_board_pool.open_count IS '开板次数';
        COMMENT ON COLUMN de_broken_board_pool.first_limit_up_time IS '首次封板时间';
        COMMENT ON COLUMN de_broken_board_pool.last_open_time IS '最后开板时间';
        COMMENT ON COLUMN de_broken_board_pool.industry IS '所属行业';
        COMMENT ON COLUMN de_broken_board_pool.created_at IS '创建时间';
        COMMENT ON COLUMN de_broken_board_pool.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.de_dragon_tiger') IS NULL THEN
        CREATE TABLE de_dragon_tiger (
            id serial NOT NULL,
            trade_date date NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            pct_chg double precision NOT NULL,
            close double precision NOT NULL,
            reason character varying(200) NOT NULL,
            net_amount double precision NOT NULL,
            buy_amount double precision NOT NULL,
            sell_amount double precision NOT NULL,
            buy_seats jsonb NOT NULL,
            sell_seats jsonb NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            CONSTRAINT de_dragon_tiger_pkey PRIMARY KEY (id),
            CONSTRAINT uq_dragon_tiger UNIQUE (trade_date, third_code, reason)
        );
        CREATE INDEX ix_de_dragon_tiger_id ON de_dragon_tiger (id);
        CREATE INDEX ix_de_dragon_tiger_third_code ON de_dragon_tiger (third_code);
        CREATE INDEX ix_de_dragon_tiger_trade_date ON de_dragon_tiger (trade_date);
        COMMENT ON COLUMN de_dragon_tiger.id IS '主键';
        COMMENT ON COLUMN de_dragon_tiger.trade_date IS '交易日期';
        COMMENT ON COLUMN de_dragon_tiger.third_code IS '股票代码（系统标准格式）';
        COMMENT ON COLUMN de_dragon_tiger.stock_name IS '股票名称';
        COMMENT ON COLUMN de_dragon_tiger.pct_chg IS '涨跌幅（百分比）';
        COMMENT ON COLUMN de_dragon_tiger.close IS '收盘价';
        COMMENT ON COLUMN de_dragon_tiger.reason IS '上榜原因';
        COMMENT ON COLUMN de_dragon_tiger.net_amount IS '龙虎榜净买入额';
        COMMENT ON COLUMN de_dragon_tiger.buy_amount IS '买入总额';
        COMMENT ON COLUMN de_dragon_tiger.sell_amount IS '卖出总额';
        COMMENT ON COLUMN de_dragon_tiger.buy_seats IS '买入席位详情（JSONB）';
        COMMENT ON COLUMN de_dragon_tiger.sell_seats IS '卖出席位详情（JSONB）';
        COMMENT ON COLUMN de_dragon_tiger.created_at IS '创建时间';
        COMMENT ON COLUMN de_dragon_tiger.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.de_limit_up_pool') IS NULL THEN
        CREATE TABLE de_limit_up_pool (
            id serial NOT NULL,
            trade_date date NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            pct_chg double precision NOT NULL,
            close double precision NOT NULL,
            amount double precision NOT NULL,
            turnover_rate double precision NOT NULL,
            consecutive_boards integer NOT NULL,
            first_limit_up_time character varying(20) NULL,
            last_limit_up_time character varying(20) NULL,
            industry character varying(100) NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            CONSTRAINT de_limit_up_pool_pkey PRIMARY KEY (id),
            CONSTRAINT uq_limit_up_pool UNIQUE (trade_date, third_code)
        );
        CREATE INDEX ix_de_limit_up_pool_id ON de_limit_up_pool (id);
        CREATE INDEX ix_de_limit_up_pool_third_code ON de_limit_up_pool (third_code);
        CREATE INDEX ix_de_limit_up_pool_trade_date ON de_limit_up_pool (trade_date);
        COMMENT ON COLUMN de_limit_up_pool.id IS '主键';
        COMMENT ON COLUMN de_limit_up_pool.trade_date IS '交易日期';
        COMMENT ON COLUMN de_limit_up_pool.third_code IS '股票代码（系统标准格式）';
        COMMENT ON COLUMN de_limit_up_pool.stock_name IS '股票名称';
        COMMENT ON COLUMN de_limit_up_pool.pct_chg IS '涨跌幅（百分比）';
        COMMENT ON COLUMN de_limit_up_pool.close IS '最新价';
        COMMENT ON COLUMN de_limit_up_pool.amount IS '成交额';
        COMMENT ON COLUMN de_limit_up_pool.turnover_rate IS '换手率';
        COMMENT ON COLUMN de_limit_up_pool.consecutive_boards IS '连板天数（首板为 1）';
        COMMENT ON COLUMN de_limit_up_pool.first_limit_up_time IS '首次封板时间';
        COMMENT ON COLUMN de_limit_up_pool.last_limit_up_time IS '最后封板时间';
        COMMENT ON COLUMN de_limit_up_pool.industry IS '所属行业';
        COMMENT ON COLUMN de_limit_up_pool.created_at IS '创建时间';
        COMMENT ON COLUMN de_limit_up_pool.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.de_previous_limit_up') IS NULL THEN
        CREATE TABLE de_previous_limit_up (
            id serial NOT NULL,
            trade_date date NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            pct_chg double precision NOT NULL,
            close double precision NOT NULL,
            amount double precision NOT NULL,
            turnover_rate double precision NOT NULL,
            yesterday_consecutive_boards integer NOT NULL,
            industry character varying(100) NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            CONSTRAINT de_previous_limit_up_pkey PRIMARY KEY (id),
            CONSTRAINT uq_previous_limit_up UNIQUE (trade_date, third_code)
        );
        CREATE INDEX ix_de_previous_limit_up_id ON de_previous_limit_up (id);
        CREATE INDEX ix_de_previous_limit_up_third_code ON de_previous_limit_up (third_code);
        CREATE INDEX ix_de_previous_limit_up_trade_date ON de_previous_limit_up (trade_date);
        COMMENT ON COLUMN de_previous_limit_up.id IS '主键';
        COMMENT ON COLUMN de_previous_limit_up.trade_date IS '交易日期（今日日期，即表现观察日）';
        COMMENT ON COLUMN de_previous_limit_up.third_code IS '股票代码（系统标准格式）';
        COMMENT ON COLUMN de_previous_limit_up.stock_name IS '股票名称';
        COMMENT ON COLUMN de_previous_limit_up.pct_chg IS '今日涨跌幅（百分比）';
        COMMENT ON COLUMN de_previous_limit_up.close IS '最新价';
        COMMENT ON COLUMN de_previous_limit_up.amount IS '成交额';
        COMMENT ON COLUMN de_previous_limit_up.turnover_rate IS '换手率';
        COMMENT ON COLUMN de_previous_limit_up.yesterday_consecutive_boards IS '昨日连板天数';
        COMMENT ON COLUMN de_previous_limit_up.industry IS '所属行业';
        COMMENT ON COLUMN de_previous_limit_up.created_at IS '创建时间';
        COMMENT ON COLUMN de_previous_limit_up.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.de_sector_capital_flow') IS NULL THEN
        CREATE TABLE de_sector_capital_flow (
            id serial NOT NULL,
            trade_date date NOT NULL,
            sector_name character varying(100) NOT NULL,
            sector_type character varying(50) NOT NULL,
            net_amount double precision NOT NULL,
            inflow_amount double precision NOT NULL,
            outflow_amount double precision NOT NULL,
            pct_chg double precision NOT NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            CONSTRAINT de_sector_capital_flow_pkey PRIMARY KEY (id),
            CONSTRAINT uq_sector_capital_flow UNIQUE (trade_date, sector_name, sector_type)
        );
        CREATE INDEX ix_de_sector_capital_flow_id ON de_sector_capital_flow (id);
        CREATE INDEX ix_de_sector_capital_flow_sector_name ON de_sector_capital_flow (sector_name);
        CREATE INDEX ix_de_sector_capital_flow_sector_type ON de_sector_capital_flow (sector_type);
        CREATE INDEX ix_de_sector_capital_flow_trade_date ON de_sector_capital_flow (trade_date);
        COMMENT ON COLUMN de_sector_capital_flow.id IS '主键';
        COMMENT ON COLUMN de_sector_capital_flow.trade_date IS '交易日期';
        COMMENT ON COLUMN de_sector_capital_flow.sector_name IS '板块名称';
        COMMENT ON COLUMN de_sector_capital_flow.sector_type IS '板块类型（如''概念资金流''）';
        COMMENT ON COLUMN de_sector_capital_flow.net_amount IS '净流入额（万元）';
        COMMENT ON COLUMN de_sector_capital_flow.inflow_amount IS '流入额（万元）';
        COMMENT ON COLUMN de_sector_capital_flow.outflow_amount IS '流出额（万元）';
        COMMENT ON COLUMN de_sector_capital_flow.pct_chg IS '板块涨跌幅（百分比）';
        COMMENT ON COLUMN de_sector_capital_flow.created_at IS '创建时间';
        COMMENT ON COLUMN de_sector_capital_flow.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.mi_concept_heat') IS NULL THEN
        CREATE TABLE mi_concept_heat (
            id serial NOT NULL,
            trade_date date NOT NULL,
            concept_code character varying(50) NOT NULL,
            concept_name character varying(100) NOT NULL,
            avg_pct_chg double precision NOT NULL,
            stock_count integer NOT NULL,
            up_count integer NOT NULL,
            down_count integer NOT NULL,
            limit_up_count integer NOT NULL,
            total_amount double precision NOT NULL,
            created_at timestamp without time zone NOT NULL DEFAULT now(),
            updated_at timestamp without time zone NOT NULL DEFAULT now(),
            CONSTRAINT mi_concept_heat_pkey PRIMARY KEY (id),
            CONSTRAINT uq_mi_concept_heat_date_code UNIQUE (trade_date, concept_code)
        );
        CREATE INDEX ix_mi_concept_heat_concept_code ON mi_concept_heat (concept_code);
        CREATE INDEX ix_mi_concept_heat_trade_date ON mi_concept_heat (trade_date);
        COMMENT ON COLUMN mi_concept_heat.id IS '主键ID';
        COMMENT ON COLUMN mi_concept_heat.trade_date IS '交易日期';
        COMMENT ON COLUMN mi_concept_heat.concept_code IS '概念板块代码';
        COMMENT ON COLUMN mi_concept_heat.concept_name IS '概念板块名称';
        COMMENT ON COLUMN mi_concept_heat.avg_pct_chg IS '等权平均涨跌幅（百分比）';
        COMMENT ON COLUMN mi_concept_heat.stock_count IS '成分股总数';
        COMMENT ON COLUMN mi_concept_heat.up_count IS '上涨家数';
        COMMENT ON COLUMN mi_concept_heat.down_count IS '下跌家数';
        COMMENT ON COLUMN mi_concept_heat.limit_up_count IS '涨停家数';
        COMMENT ON COLUMN mi_concept_heat.total_amount IS '板块成交额合计';
        COMMENT ON COLUMN mi_concept_heat.created_at IS '创建时间';
        COMMENT ON COLUMN mi_concept_heat.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.mi_limit_up_stock') IS NULL THEN
        CREATE TABLE mi_limit_up_stock (
            id serial NOT NULL,
            trade_date date NOT NULL,
            third_code character varying(20) NOT NULL,
            stock_name character varying(100) NOT NULL,
            pct_chg double precision NOT NULL,
            close double precision NOT NULL,
            amount double precision NOT NULL,
            concepts jsonb NOT NULL DEFAULT '[]'::jsonb,
            limit_type character varying(20) NOT NULL,
            created_at timestamp without time zone NOT NULL DEFAULT now(),
            updated_at timestamp without time zone NOT NULL DEFAULT now(),
            CONSTRAINT mi_limit_up_stock_pkey PRIMARY KEY (id),
            CONSTRAINT uq_mi_limit_up_date_code UNIQUE (trade_date, third_code)
        );
        CREATE INDEX ix_mi_limit_up_stock_third_code ON mi_limit_up_stock (third_code);
        CREATE INDEX ix_mi_limit_up_stock_trade_date ON mi_limit_up_stock (trade_date);
        COMMENT ON COLUMN mi_limit_up_stock.id IS '主键ID';
        COMMENT ON COLUMN mi_limit_up_stock.trade_date IS '交易日期';
        COMMENT ON COLUMN mi_limit_up_stock.third_code IS '股票代码';
        COMMENT ON COLUMN mi_limit_up_stock.stock_name IS '股票名称';
        COMMENT ON COLUMN mi_limit_up_stock.pct_chg IS '涨跌幅（百分比）';
        COMMENT ON COLUMN mi_limit_up_stock.close IS '收盘价';
        COMMENT ON COLUMN mi_limit_up_stock.amount IS '成交额';
        COMMENT ON COLUMN mi_limit_up_stock.concepts IS '所属概念板块对象列表';
        COMMENT ON COLUMN mi_limit_up_stock.limit_type IS '涨停类型';
        COMMENT ON COLUMN mi_limit_up_stock.created_at IS '创建时间';
        COMMENT ON COLUMN mi_limit_up_stock.updated_at IS '更新时间';
    END IF;
    IF to_regclass('public.scheduler_execution_log') IS NULL THEN
        CREATE TABLE scheduler_execution_log (
            id uuid NOT NULL,
            job_id character varying(100) NOT NULL,
            started_at timestamp without time zone NOT NULL,
            finished_at timestamp without time zone NULL,
            status character varying(20) NOT NULL,
            error_message text NULL,
            duration_ms integer NULL,
            CONSTRAINT scheduler_execution_log_pkey PRIMARY KEY (id)
        );
        CREATE INDEX ix_scheduler_execution_log_job_id_started_at ON scheduler_execution_log (job_id, started_at);
        COMMENT ON COLUMN scheduler_execution_log.id IS '记录唯一标识';
        COMMENT ON COLUMN scheduler_execution_log.job_id IS '任务标识';
        COMMENT ON COLUMN scheduler_execution_log.started_at IS '执行开始时间';
        COMMENT ON COLUMN scheduler_execution_log.finished_at IS '执行结束时间';
        COMMENT ON COLUMN scheduler_execution_log.status IS '执行状态（RUNNING / SUCCESS / FAILED）';
        COMMENT ON COLUMN scheduler_execution_log.error_message IS '错误信息';
        COMMENT ON COLUMN scheduler_execution_log.duration_ms IS '执行耗时（毫秒）';
    END IF;
    IF to_regclass('public.scheduler_job_config') IS NULL THEN
        CREATE TABLE scheduler_job_config (
            id uuid NOT NULL,
            job_id character varying(100) NOT NULL,
            job_name character varying(200) NOT NULL,
            cron_expression character varying(100) NOT NULL,
            timezone character varying(50) NOT NULL DEFAULT 'Asia/Shanghai'::character varying,
            enabled boolean NOT NULL DEFAULT true,
            job_kwargs jsonb NULL,
            created_at timestamp without time zone NOT NULL,
            updated_at timestamp without time zone NOT NULL,
            last_run_at timestamp without time zone NULL,
            CONSTRAINT scheduler_job_config_pkey PRIMARY KEY (id),
            CONSTRAINT uq_scheduler_job_config_job_id UNIQUE (job_id)
        );
        CREATE INDEX ix_scheduler_job_config_enabled ON scheduler_job_config (enabled);
        COMMENT ON COLUMN scheduler_job_config.id IS '配置唯一标识';
        COMMENT ON COLUMN scheduler_job_config.job_id IS '任务标识（对应 JOB_REGISTRY key）';
        COMMENT ON COLUMN scheduler_job_config.job_name IS '任务名称（人类可读）';
        COMMENT ON COLUMN scheduler_job_config.cron_expression IS 'cron 表达式';
        COMMENT ON COLUMN scheduler_job_config.timezone IS '时区';
        COMMENT ON COLUMN scheduler_job_config.enabled IS '是否启用';
        COMMENT ON COLUMN scheduler_job_config.job_kwargs IS '任务参数（JSON）';
        COMMENT ON COLUMN scheduler_job_config.created_at IS '创建时间';
        COMMENT ON COLUMN scheduler_job_config.updated_at IS '更新时间';
        COMMENT ON COLUMN scheduler_job_config.last_run_at IS '最后执行时间';
        -- The service's revision c0ff00000010 seeds its default jobs with the table.
        INSERT INTO scheduler_job_config (id, job_id, job_name, cron_expression, timezone, enabled, job_kwargs, created_at, updated_at)
        VALUES
            (gen_random_uuid(), 'sync_daily_by_date', '日线增量同步', '0 18 * * *', 'Asia/Shanghai', true, NULL, NOW(), NOW()),
            (gen_random_uuid(), 'sync_incremental_finance', '财务增量同步', '0 0 * * *', 'Asia/Shanghai', true, NULL, NOW(), NOW()),
            (gen_random_uuid(), 'sync_concept_data', '概念数据同步', '30 18 * * *', 'Asia/Shanghai', true, NULL, NOW(), NOW()),
            (gen_random_uuid(), 'sync_stock_basic', '股票基础信息同步', '0 19 * * *', 'Asia/Shanghai', true, NULL, NOW(), NOW())
        ON CONFLICT (job_id) DO NOTHING;
    END IF;
    IF to_regclass('public.web_search_cache') IS NULL THEN
        CREATE TABLE web_search_cache (
            cache_key character varying(64) NOT NULL,
            request_params jsonb NOT NULL,
            response_data text NOT NULL,
            created_at timestamp without time zone NOT NULL,
            expires_at timestamp without time zone NOT NULL,
            CONSTRAINT web_search_cache_pkey PRIMARY KEY (cache_key)
        );
        CREATE INDEX ix_web_search_cache_expires_at ON web_search_cache (expires_at);
        COMMENT ON COLUMN web_search_cache.cache_key IS '请求参数 SHA-256 哈希，主键';
        COMMENT ON COLUMN web_search_cache.request_params IS '原始请求参数';
        COMMENT ON COLUMN web_search_cache.response_data IS 'WebSearchResponse JSON';
        COMMENT ON COLUMN web_search_cache.created_at IS '写入时间';
        COMMENT ON COLUMN web_search_cache.expires_at IS '过期时间';
    END IF;
    IF to_regclass('public.alembic_version') IS NOT NULL THEN
        UPDATE alembic_version SET version_num = 'c0ff00000013'
        WHERE version_num IN ('c0ff00000004', 'c0ff00000005', 'c0ff00000009', 'c0ff00000010',
                              'c0ff00000011', 'c0ff00000012');
    END IF;
END
$$;
